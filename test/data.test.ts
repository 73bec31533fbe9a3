import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as ml from 'margin-lab';

function idx(dims: number[], data: number[], magic = [0, 0, 8, dims.length]): Uint8Array {
  const header = Buffer.alloc(4 + 4 * dims.length);
  magic.forEach((b, i) => header.writeUInt8(b, i));
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, Buffer.from(data)]));
}

test('IDX reader parses valid data and rejects bad magic, types, truncation', () => {
  const ok = ml.parseIdx(idx([2, 2], [1, 2, 3, 4]), 'x');
  assert.deepEqual(ok.dims, [2, 2]);
  assert.deepEqual(Array.from(ok.data), [1, 2, 3, 4]);
  assert.throws(
    () => ml.parseIdx(idx([2, 2], [1, 2, 3, 4], [1, 0, 8, 2]), 'f.idx'),
    /f.idx: bad magic number 0x01000802/,
  );
  assert.throws(
    () => ml.parseIdx(idx([2], [1, 2], [0, 0, 0x0d, 1]), 'f.idx'),
    /data type 0x0d is not supported; expected 0x08/,
  );
  assert.throws(
    () => ml.parseIdx(idx([2, 2], [1, 2, 3]), 'f.idx'),
    /declares dimensions \[2, 2\] = 4 bytes of data, but the file has 3 \(truncated\?\)/,
  );
  assert.throws(
    () => ml.parseIdx(idx([2, 2], [1, 2, 3, 4]).subarray(0, 9), 'f.idx'),
    /truncated header: 9 bytes, need 12/,
  );
  assert.throws(() => ml.parseIdx(new Uint8Array([0, 0]), 'f.idx'), /too short for an IDX header/);
  assert.throws(
    () => ml.parseIdx(null as unknown as Uint8Array, 'f.idx'),
    /f\.idx: expected the file's bytes \(a Buffer or Uint8Array\), got null/,
  );
});

test('Fashion-MNIST files of another image size are refused; pairs.txt numbers are plain decimals; parseLfwPairs(null) is a clear error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-fmnist-size-'));
  const n = 10;
  fs.writeFileSync(
    path.join(dir, 'train-images-idx3-ubyte.gz'),
    zlib.gzipSync(idx([n, 7, 112], new Array(n * 7 * 112).fill(0))),
  );
  fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(idx([n], new Array(n).fill(1))));
  assert.throws(
    () => ml.loadFashionMnist({ dir }),
    /train-images: expected Fashion-MNIST's \[n, 28, 28\] images, got \[10, 7, 112\]/,
  );
  const pairs = (a: string) => `1\t1\nalice\t${a}\t2\nalice\t1\tbob\t1\n`;
  assert.equal(ml.parseLfwPairs(pairs('1')).length, 2);
  for (const a of ['1e3', '0x10'])
    assert.throws(() => ml.parseLfwPairs(pairs(a)), new RegExp(`image number "${a}" is not a positive integer`));
  assert.throws(
    () => ml.parseLfwPairs('1e1\n'),
    /pairs\.txt line 1: expected "folds<TAB>pairsPerFold" or "pairsPerFold"/,
  );
  assert.throws(
    () => ml.parseLfwPairs(null as unknown as string),
    /parseLfwPairs: expected the text of pairs\.txt \(a string\), got null/,
  );
});

test('a truncated or corrupt gzipped IDX file gives a clear error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-idx-'));
  const good = zlib.gzipSync(idx([3, 2], [1, 2, 3, 4, 5, 6]));
  fs.writeFileSync(path.join(dir, 'good.gz'), good);
  assert.deepEqual(ml.readIdxFile(path.join(dir, 'good.gz')).dims, [3, 2]);
  fs.writeFileSync(path.join(dir, 'cut.gz'), good.subarray(0, good.length - 10));
  assert.throws(() => ml.readIdxFile(path.join(dir, 'cut.gz')), /cut.gz: not a valid gzip file/);
  fs.writeFileSync(path.join(dir, 'short.gz'), zlib.gzipSync(idx([3, 2], [1, 2, 3, 4, 5, 6]).subarray(0, 12)));
  assert.throws(
    () => ml.readIdxFile(path.join(dir, 'short.gz')),
    /short.gz: header declares dimensions \[3, 2\] = 6 bytes of data, but the file has 0/,
  );
  assert.throws(() => ml.readIdxFile(path.join(dir, 'missing.gz')), /missing.gz: file not found/);
});

test('Fashion-MNIST loads from data/ with its 10 balanced classes', () => {
  const test10k = ml.loadFashionMnist({ split: 'test' });
  assert.equal(test10k.y.length, 10000);
  assert.deepEqual(test10k.shape, [28, 28, 1]);
  assert.equal(test10k.x.length, 10000 * 784);
  const counts = new Array(10).fill(0);
  test10k.y.forEach((v) => counts[v]++);
  assert.deepEqual(counts, new Array(10).fill(1000));
  assert.ok(test10k.x.every((v) => v >= 0 && v <= 1));
  assert.equal(test10k.classNames[9], 'Ankle boot');
  assert.ok(fs.existsSync(path.join(ml.dataDir(), 'fashion-mnist', 'COPYRIGHT')));
  const train = ml.loadFashionMnist({ split: 'train', limit: 500 });
  assert.equal(train.y.length, 500);
});

test('MNIST digits load from the mnist package', () => {
  const d = ml.loadMnistDigits({ perClass: 20 });
  assert.equal(d.y.length, 200);
  assert.deepEqual([...new Set(d.y)].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(d.x.some((v) => v > 0.5));
});

test('open-set split: disjoint classes, reproducible from the seed', () => {
  const tr = ml.loadFashionMnist({ split: 'train', limit: 3000 });
  const te = ml.loadFashionMnist({ split: 'test' });
  const a = ml.openSetSplit(tr, te, { seen: ml.parseClassList('0-4'), seed: 3, trainPerClass: 50, testPerClass: 20 });
  const b = ml.openSetSplit(tr, te, { seen: [0, 1, 2, 3, 4], seed: 3, trainPerClass: 50, testPerClass: 20 });
  const c = ml.openSetSplit(tr, te, { seen: [0, 1, 2, 3, 4], seed: 4, trainPerClass: 50, testPerClass: 20 });
  assert.deepEqual(a.unseenClasses, [5, 6, 7, 8, 9]);
  assert.ok(a.train.y.every((v) => v <= 4) && a.testUnseen.y.every((v) => v >= 5));
  assert.deepEqual([...new Set(a.train.localY)].sort(), [0, 1, 2, 3, 4]);
  assert.equal(a.train.y.length, 250);
  assert.equal(a.testUnseen.y.length, 100);
  assert.deepEqual(a.train.x, b.train.x, 'same seed, same split');
  assert.notDeepEqual(a.train.x, c.train.x, 'another seed picks other images');
  assert.throws(() => ml.openSetSplit(tr, te, { seen: [0, 1], unseen: [1, 2] }), /classes 1 are both seen and unseen/);
  assert.throws(() => ml.parseClassList('4-2'), /runs backwards/);
  assert.throws(() => ml.parseClassList('a'), /"a" is not a class index/);
  assert.deepEqual(ml.parseClassList('0-2,7'), [0, 1, 2, 7]);
});

test('verification pairs: balanced folds of distinct genuine and impostor pairs', () => {
  const labels = Array.from({ length: 200 }, (_, i) => i % 5);
  const p = ml.verificationPairs(labels, { folds: 10, perFold: 30, seed: 1 });
  assert.equal(p.a.length, 600);
  const keys = new Set<string>();
  for (let f = 0; f < 10; f++) {
    let same = 0;
    let diff = 0;
    for (let k = 0; k < p.a.length; k++) {
      if (p.fold[k] !== f) continue;
      if (p.same[k]) same++;
      else diff++;
    }
    assert.equal(same, 30);
    assert.equal(diff, 30);
  }
  for (let k = 0; k < p.a.length; k++) {
    assert.equal(labels[p.a[k]] === labels[p.b[k]], p.same[k] === 1);
    assert.notEqual(p.a[k], p.b[k]);
    const key = [p.a[k], p.b[k]].sort((x, y) => x - y).join(',');
    assert.ok(!keys.has(key), 'duplicate pair');
    keys.add(key);
  }
  assert.throws(() => ml.verificationPairs([0, 1, 2]), /no class has two samples/);
});

test('P×K batches hold P classes with K samples each', () => {
  const labels = Array.from({ length: 120 }, (_, i) => i % 6);
  const batches = ml.pkBatches(labels, 3, 4, 9);
  assert.equal(batches.length, 10);
  for (const b of batches) {
    assert.equal(b.length, 12);
    const per = new Map<number, number>();
    b.forEach((i) => per.set(labels[i], (per.get(labels[i]) ?? 0) + 1));
    assert.equal(per.size, 3);
    assert.ok([...per.values()].every((v) => v === 4));
  }
  assert.throws(() => ml.pkBatches(labels, 3, 1, 0), /K = 1 must be an integer of at least 2/);
  assert.throws(
    () => ml.pkBatches(labels, 2.5, 4, 0),
    /P = 2.5 must be an integer between 2 and the number of classes \(6\)/,
  );
  // Too few images for one batch: an error, not zero batches.
  assert.throws(
    () => ml.pkBatches([0, 0, 1, 1, 2, 2], 2, 100, 1),
    /pkBatches: 6 images make no batch of P × K = 2 × 100 = 200; lower P or K, or give more images/,
  );
  // Labels beyond int32 would wrap onto others in a pair loss: refused.
  assert.throws(
    () => ml.tf.tidy(() => ml.contrastiveLoss().compute(ml.tf.zeros([4, 2]) as ml.tf.Tensor2D, [2 ** 32, 0, 1, 1])),
    /contrastive.*labels\[0\] = 4294967296 is larger than 2³¹ − 1, the largest label an int32 holds/,
  );
});

async function makeFolder(root: string, spec: Record<string, number>): Promise<void> {
  const sharp = require('sharp');
  let colour = 10;
  for (const [id, count] of Object.entries(spec)) {
    fs.mkdirSync(path.join(root, id), { recursive: true });
    for (let i = 0; i < count; i++) {
      colour += 30;
      await sharp({
        create: { width: 20 + i, height: 16, channels: 3, background: { r: colour % 256, g: 100, b: 200 } },
      })
        .png()
        .toFile(path.join(root, id, `${id}_${String(i + 1).padStart(4, '0')}.${i % 2 ? 'jpg' : 'png'}`));
    }
  }
}

test('image folders load per identity, resized, with clear errors for bad layouts', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-faces-'));
  await makeFolder(path.join(root, 'ok'), { alice: 3, bob: 2 });
  const ds = await ml.loadImageFolder(path.join(root, 'ok'), { size: [8, 8] });
  assert.deepEqual(ds.classNames, ['alice', 'bob']);
  assert.deepEqual(Array.from(ds.y), [0, 0, 0, 1, 1]);
  assert.deepEqual(ds.shape, [8, 8, 3]);
  assert.equal(ds.x.length, 5 * 8 * 8 * 3);
  assert.ok(Math.abs(ds.x[2] - 200 / 255) < 0.02, 'blue channel of a fill colour');
  const gray = await ml.loadImageFolder(path.join(root, 'ok'), { size: [4, 6], grayscale: true });
  assert.deepEqual(gray.shape, [4, 6, 1]);

  await assert.rejects(ml.loadImageFolder(path.join(root, 'nope')), /image folder .*nope does not exist/);
  fs.mkdirSync(path.join(root, 'flat'));
  await assert.rejects(ml.loadImageFolder(path.join(root, 'flat')), /has no identity sub-folders/);
  await makeFolder(path.join(root, 'single'), { carol: 1, dave: 2 });
  await assert.rejects(
    ml.loadImageFolder(path.join(root, 'single')),
    /identity carol has 1 image\(s\) but at least 2 are needed/,
  );
  assert.equal(
    (await ml.loadImageFolder(path.join(root, 'single'), { minImagesPerIdentity: 1, size: [4, 4] })).y.length,
    3,
  );
  await makeFolder(path.join(root, 'empty'), { erin: 2 });
  fs.mkdirSync(path.join(root, 'empty', 'frank'));
  await assert.rejects(ml.loadImageFolder(path.join(root, 'empty')), /identity folder .*frank has no images/);
  await makeFolder(path.join(root, 'broken'), { gina: 2 });
  fs.writeFileSync(path.join(root, 'broken', 'gina', 'gina_0003.jpg'), 'not a jpeg at all');
  await assert.rejects(
    ml.loadImageFolder(path.join(root, 'broken'), { size: [4, 4], strict: true }),
    /cannot read image .*gina_0003.jpg/,
  );
});

test('image folders: meaningless sizes and counts are refused; symbolic links are followed and reported', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-faces-strict-'));
  await makeFolder(path.join(root, 'ok'), { alice: 3, bob: 2 });
  const ok = path.join(root, 'ok');
  for (const size of [[0, 8], [1.5, 8], [-5, 8], [8]] as unknown as Array<[number, number]>)
    await assert.rejects(
      ml.loadImageFolder(ok, { size }),
      /loadImageFolder: size must be \[height, width\], integers in \[1, 4096\], got/,
    );
  for (const max of [0, -1, 1.5])
    await assert.rejects(
      ml.loadImageFolder(ok, { maxImagesPerIdentity: max }),
      /maxImagesPerIdentity must be an integer ≥ 1, got/,
    );
  await assert.rejects(
    ml.loadImageFolder(ok, { minImagesPerIdentity: -3 }),
    /minImagesPerIdentity must be an integer ≥ 1, got -3/,
  );
  await assert.rejects(
    ml.loadImageFolder(ok, { minImagesPerIdentity: 3, maxImagesPerIdentity: 2 }),
    /maxImagesPerIdentity 2 is below minImagesPerIdentity 3/,
  );
  const plain = await ml.loadImageFolder(ok, { size: [4, 4] });
  assert.deepEqual(plain.symlinks, []);
  assert.match(plain.summary, /: 2 identities, 5 images$/);
  // A linked identity folder and a linked image: followed, listed, and in the summary line.
  fs.symlinkSync(path.join(ok, 'bob'), path.join(ok, 'carl'));
  fs.symlinkSync(path.join(ok, 'alice', 'alice_0001.png'), path.join(ok, 'bob', 'bob_0009.png'));
  const linked = await ml.loadImageFolder(ok, { size: [4, 4] });
  assert.deepEqual(linked.classNames, ['alice', 'bob', 'carl']);
  assert.equal(linked.y.length, 3 + 3 + 3);
  assert.match(
    linked.summary,
    /3 identities, 9 images; followed 3 symbolic link\(s\) \(1 identity folder\(s\), 2 image\(s\)\)/,
  );
  // A dangling link is an error naming it, not a raw ENOENT.
  fs.symlinkSync(path.join(root, 'gone'), path.join(ok, 'dora'));
  await assert.rejects(
    ml.loadImageFolder(ok, { size: [4, 4] }),
    /dora: a symbolic link whose target cannot be read \(ENOENT\)/,
  );
});

test('numbers arriving as strings, NaN seeds and labels, and non-finite class weights are errors that say so', () => {
  assert.throws(
    () => ml.arcFace({ numClasses: 4, embeddingDim: 3, m: '0.5' as unknown as number }),
    /arcface: m must be a number in \[0, π\/2\), got the string "0\.5" \(write 0\.5 without quotes\)/,
  );
  assert.throws(
    () => ml.arcFace({ numClasses: 4, embeddingDim: '4' as unknown as number }),
    /arcface: embeddingDim must be a number, got the string "4"/,
  );
  assert.throws(
    () => ml.cosFace({ numClasses: 4, embeddingDim: 3, s: '30' as unknown as number }),
    /cosface: s must be a number > 0, got the string "30"/,
  );
  for (const seed of [Number.NaN, -1, 1.5])
    assert.throws(
      () => ml.arcFace({ numClasses: 4, embeddingDim: 3, seed }),
      /arcface: seed must be an integer ≥ 0, got/,
    );
  assert.throws(
    () =>
      ml.arcFace({
        numClasses: 2,
        embeddingDim: 2,
        weights: [
          [1, 0],
          [0, Number.NaN],
        ],
      }),
    /arcface: weights must be finite, got NaN at row 1, column 1/,
  );
  assert.throws(
    () => ml.verificationPairs([0, Number.NaN, 1, 1, 0]),
    /verificationPairs: label NaN at index 1 is not an integer/,
  );
  assert.throws(
    () => ml.verificationPairs([0, 0, 1, 1], { seed: -2 }),
    /verificationPairs: seed must be an integer ≥ 0, got -2/,
  );
  assert.throws(() => ml.spreadDirections(3, 4, 1, -5), /spreadDirections: iterations must be an integer ≥ 0, got -5/);
  assert.throws(() => ml.spreadDirections(3, 4, Number.NaN), /spreadDirections: seed must be an integer ≥ 0, got NaN/);
  // Large inputs do not go through spread arguments (which overflow the stack near 10^5).
  assert.equal(ml.spreadDirections(200_000, 3).length, 3);
  const fit = ml.ownWeightAgreement(
    [Array(200_000).fill(0.1)],
    [0],
    Array.from({ length: 200_000 }, () => [1]),
  );
  assert.ok(Math.abs(fit.meanCos - 1) < 1e-9);
});

test('LFW pairs.txt parser: folds, matched and mismatched lines, errors with line numbers', () => {
  const text = ['2\t1', 'Ann\t1\t2', 'Ann\t1\tBen\t3', 'Cid\t2\t4', 'Cid\t1\tDee\t1'].join('\n');
  const pairs = ml.parseLfwPairs(text, '/lfw');
  assert.equal(pairs.length, 4);
  assert.deepEqual(pairs[0], {
    fileA: path.join('/lfw', 'Ann', 'Ann_0001.jpg'),
    fileB: path.join('/lfw', 'Ann', 'Ann_0002.jpg'),
    same: true,
    fold: 0,
  });
  assert.deepEqual(pairs[1], {
    fileA: path.join('/lfw', 'Ann', 'Ann_0001.jpg'),
    fileB: path.join('/lfw', 'Ben', 'Ben_0003.jpg'),
    same: false,
    fold: 0,
  });
  assert.equal(pairs[3].fold, 1);
  assert.equal(ml.parseLfwPairs('1\nA 1 2\nA 1 B 1').length, 2);
  assert.throws(
    () => ml.parseLfwPairs('2\t1\nAnn\t1\t2\nAnn\t1\tBen\t3'),
    /promises 2 fold\(s\) × 2 × 1 pairs = 4 lines, found 2/,
  );
  assert.throws(() => ml.parseLfwPairs('1\nAnn 1 B 2\nA 1 B 1'), /line 2: a matched pair needs "name i j"/);
  assert.throws(() => ml.parseLfwPairs('1\nAnn 1 x\nA 1 B 1'), /line 2: image number "x" is not a positive integer/);
  assert.throws(() => ml.parseLfwPairs('ten'), /line 1: expected "folds<TAB>pairsPerFold"/);
});
