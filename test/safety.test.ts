/**
 * Nothing lost, nothing hangs: atomic writes that survive a full disk, run folders that are not
 * overwritten unasked, --resume checked against the checkpoint, history.csv after every epoch,
 * loss state untouched by a rejected step, and inputs that could loop forever fail fast.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';
import { writeFilesTogether } from 'margin-lab/dist/util/fs';

before(async () => {
  await ml.useBestBackend({ print: false });
});

const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));

test('writeFileAtomic: a failing (full-disk) write keeps the old file and leaves no temp file', () => {
  const dir = tmp('ml-atomic-');
  const file = path.join(dir, 'checkpoint.json');
  ml.writeFileAtomic(file, '{"good":true}');
  const nodeFs = require('fs') as typeof fs;
  const realWrite = nodeFs.writeSync;
  let calls = 0;
  // A short write, then ENOSPC: what a disk that fills up mid-write does.
  (nodeFs as { writeSync: unknown }).writeSync = (fd: number, buf: Uint8Array, off?: number, len?: number) => {
    calls++;
    if (calls === 1) return realWrite(fd, buf, off ?? 0, Math.min(len ?? buf.length, 5));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  try {
    assert.throws(
      () => ml.writeFileAtomic(file, JSON.stringify({ big: 'x'.repeat(1000) })),
      (e: Error) => {
        assert.ok(e instanceof ml.DiskFullError, String(e));
        assert.match(
          e.message,
          /^disk full: could not write .*checkpoint\.json \(ENOSPC: no space left on device, write\); the previous file is kept unchanged/,
        );
        return true;
      },
    );
    // A write that returns 0 bytes is a short write too, not an endless loop.
    calls = 1;
    (nodeFs as { writeSync: unknown }).writeSync = () => 0;
    assert.throws(() => ml.writeFileAtomic(file, 'new content'), /disk full: .*write returned 0 after 0 of 11 bytes/);
  } finally {
    (nodeFs as { writeSync: unknown }).writeSync = realWrite;
  }
  assert.equal(fs.readFileSync(file, 'utf8'), '{"good":true}');
  assert.deepEqual(fs.readdirSync(dir), ['checkpoint.json'], 'temp files left behind');
  // verify() refuses bad bytes before the rename.
  assert.throws(
    () => ml.writeFileAtomic(file, '{"truncated', { verify: (b) => JSON.parse(b.toString()) }),
    /Unterminated string|JSON/,
  );
  assert.equal(fs.readFileSync(file, 'utf8'), '{"good":true}');
  assert.throws(() => ml.writeFileAtomic(dir, 'x'), /cannot write .*: it is a folder/);
  assert.deepEqual(fs.readdirSync(dir), ['checkpoint.json']);
});

test('writeFileAtomic on a real full disk (a 64 KiB tmpfs) keeps the previous file', (t) => {
  const mnt = tmp('ml-tmpfs-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.skip(
      `cannot mount a tmpfs here (${(m.stderr || m.error?.message || '').trim()}); the injected-failure test above covers it`,
    );
    return;
  }
  try {
    const file = path.join(mnt, 'checkpoint.json');
    ml.writeFileAtomic(file, JSON.stringify({ epoch: 1, pad: 'a'.repeat(20_000) }));
    assert.throws(
      () => ml.writeFileAtomic(file, JSON.stringify({ epoch: 2, pad: 'b'.repeat(200_000) })),
      ml.DiskFullError,
    );
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).epoch, 1);
    assert.deepEqual(fs.readdirSync(mnt), ['checkpoint.json']);
  } finally {
    spawnSync('umount', [mnt]);
  }
});

/** 4 classes of 6×6 images; `poison` makes every pixel NaN. */
function data(poison = false): ml.TrainData {
  const r = new ml.Rng(5);
  const n = 64;
  const x = new Float32Array(n * 36).map(() => (poison ? NaN : r.next()));
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % 4), shape: [6, 6, 1] };
}
const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [6, 6, 1], embeddingDim: 3, hidden: [16], seed: 2 };

test("writeFileAtomic: temp files of writers killed mid-write (real SIGKILLs) are removed by the next write; a live writer's are kept", async () => {
  const dir = tmp('ml-stale-');
  const file = path.join(dir, 'checkpoint.json');
  const writer = `const { writeFileAtomic } = require(${JSON.stringify(path.join(ROOT, 'dist', 'util', 'fs.js'))});
    const pad = 'x'.repeat(4 << 20);
    for (let i = 0; ; i++) writeFileAtomic(${JSON.stringify(file)}, JSON.stringify({ i, pad }));`;
  const temps = () => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));
  let leftBehind = 0;
  for (let k = 0; k < 8; k++) {
    const child = spawn(process.execPath, ['-e', writer], { stdio: 'ignore' });
    // Kill at a point that varies from run to run, mostly in the middle of a write.
    await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 250)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    leftBehind = Math.max(leftBehind, temps().length);
    // Whatever the target holds is a complete write.
    if (fs.existsSync(file)) assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pad.length, 4 << 20);
  }
  // And one certainly stale: the temp name of a process that has exited.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const dead = path.join(dir, `.checkpoint.json.${gone.stdout.trim()}.deadbeef.tmp`);
  fs.writeFileSync(dead, 'half a checkpoint');
  // A writer that is still running keeps its temp file (this test's parent process stands in for it).
  const live = path.join(dir, `.checkpoint.json.${process.ppid}.0123abcd.tmp`);
  fs.writeFileSync(live, 'in progress');
  ml.writeFileAtomic(file, JSON.stringify({ done: true }));
  assert.deepEqual(temps(), [path.basename(live)], `stale temp files left (at most ${leftBehind} seen after a kill)`);
  assert.ok(!fs.existsSync(dead));
  assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { done: true });
});

test('a rejected (NaN) step leaves loss state as it was, and the same loss trains again afterwards', async () => {
  const losses: Array<[string, ml.EmbeddingLoss]> = [
    ['curricularface', ml.curricularFace({ numClasses: 4, embeddingDim: 3, s: 8 })],
    ['adaface', ml.adaFace({ numClasses: 4, embeddingDim: 3, s: 8 })],
    ['softmax+center', ml.softmaxCenterLoss({ numClasses: 4, embeddingDim: 3 })],
  ];
  for (const [name, loss] of losses) {
    const model = ml.buildBackbone(spec);
    const snap = () =>
      Object.fromEntries(Object.entries(loss.stateDict()).map(([k, v]) => [k, Array.from(v.dataSync())]));
    const before = snap();
    await assert.rejects(
      ml.train({ model, backbone: spec, loss, data: data(true), epochs: 1, batchSize: 16, progress: 'none' }),
      ml.TrainingDivergedError,
    );
    assert.deepEqual(snap(), before, `${name}: state changed by the rejected step`);
    assert.equal(loss.training, false, `${name}: left in training mode`);
    const res = await ml.train({
      model,
      backbone: spec,
      loss,
      data: data(),
      epochs: 1,
      batchSize: 16,
      progress: 'none',
    });
    assert.ok(Number.isFinite(res.history[0].loss), `${name}: could not train again`);
    for (const v of Object.values(snap()))
      assert.ok(v.every(Number.isFinite), `${name}: state not finite after training`);
    model.dispose();
    loss.dispose();
  }
});

function cli(args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'train.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}
/** The train CLI started in the background, its output piped (for tests that signal it mid-run). */
function startTrain(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'train.js'), ...args], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}
const small = ['--backbone', 'mlp', '--dim', '4', '--seen', '0-2', '--max-steps', '2', '--train-per-class', '30'];

test(
  'train CLI: Ctrl-C (real SIGINTs at random moments) stops after the step, leaves no temp file, and says in one line what was saved',
  { timeout: 600_000 },
  async () => {
    const rng = new ml.Rng(11);
    for (let k = 0; k < 4; k++) {
      const run = path.join(tmp('ml-sigint-'), 'run');
      const args = ['--loss', 'arcface', '--epochs', '400', ...small, '--max-steps', '3', '--run', run];
      const child = startTrain(args);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      // Wait until training runs (the first line), then interrupt at a moment that varies.
      while (!/training arcface/.test(stdout)) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200 + Math.floor(rng.next() * 3000)));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.once('close', r));
      assert.equal(code, 130, stderr);
      const line = /interrupted at epoch (\d+), step (\d+): (.*)/.exec(stderr);
      assert.ok(line, `no interrupt line in: ${stderr}`);
      assert.match(stderr, /stopping after this step \(Ctrl-C again to quit at once\)/);
      const temps = fs.existsSync(run) ? fs.readdirSync(run).filter((f) => f.endsWith('.tmp')) : [];
      assert.deepEqual(temps, [], 'a temp file was left');
      const saved = /holds epoch (\d+); continue with: npm run train -- --resume --run /.exec(line[3]);
      if (saved) {
        const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) as { epoch: number };
        assert.equal(ck.epoch, Number(saved[1]), 'the line names the epoch the checkpoint holds');
        assert.ok(ck.epoch <= Number(line[1]));
        const history = fs.readFileSync(path.join(run, 'history.csv'), 'utf8').trim().split('\n');
        assert.equal(history.length - 1, ck.epoch, 'history.csv agrees with the checkpoint');
        // And the run continues from there.
        const resumed = cli(['--run', run, '--resume', '--epochs', String(ck.epoch + 1)]);
        assert.equal(resumed.status, 0, resumed.stderr);
        assert.equal(
          (JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) as { epoch: number }).epoch,
          ck.epoch + 1,
        );
      } else {
        assert.match(line[3], /no epoch had finished, nothing was saved/);
        assert.ok(!fs.existsSync(path.join(run, 'checkpoint.json')));
      }
    }
  },
);

test(
  'train CLI: the printed resume command continues the run to the epochs it was started with, equal to an uninterrupted run; a finished run says how to train more',
  { timeout: 600_000 },
  async () => {
    const args = ['--loss', 'arcface', '--optimizer', 'sgd', '--schedule', 'cosine', ...small, '--max-steps', '3'];
    const whole = path.join(tmp('ml-resume-whole-'), 'run');
    // 30 one-step epochs: long enough to be interrupted early whatever the machine's speed.
    const w = cli([...args, '--epochs', '30', '--run', whole]);
    assert.equal(w.status, 0, w.stderr);
    const run = path.join(tmp('ml-resume-cmd-'), 'run');
    const child = startTrain([...args, '--epochs', '30', '--run', run]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Interrupt once epoch 2's checkpoint is written.
    const epochOf = () => {
      try {
        return (JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) as { epoch: number }).epoch;
      } catch {
        return 0;
      }
    };
    while (child.exitCode === null && epochOf() < 2) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) =>
      child.exitCode !== null ? r(child.exitCode) : child.once('close', r),
    );
    assert.equal(code, 130, `the run was not interrupted (exit ${code}): ${stderr}`);
    const printed = /continue with: npm run train -- (--resume --run \S+)/.exec(stderr);
    assert.ok(printed, stderr);
    const saved = epochOf();
    assert.ok(saved >= 2 && saved < 30, `checkpoint at epoch ${saved}`);
    // Exactly the printed command.
    const resumed = cli(printed[1].split(' '));
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.equal(epochOf(), 30, 'the resumed run stopped before the 30 epochs it was started with');
    const history = (dir: string) => fs.readFileSync(path.join(dir, 'history.csv'), 'utf8').trim().split('\n');
    const losses = (dir: string) =>
      history(dir)
        .slice(1)
        .map((l) => l.split(',')[1]);
    assert.deepEqual(losses(run), losses(whole), 'the resumed run differs from the uninterrupted one');
    // Finished: the same command says so and how to go on; --epochs 31 trains one more.
    const again = cli(printed[1].split(' '));
    assert.equal(again.status, 2);
    assert.match(
      again.stderr,
      /has finished: it is at epoch 30 of the 30 it was started with; to train it further give the new total, --epochs 31 or more/,
    );
    const more = cli([...printed[1].split(' '), '--epochs', '31']);
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stdout, /resume: --epochs 31 instead of the 30 the run was started with/);
    assert.equal(epochOf(), 31);
  },
);

test("train: a run folder whose model/ is a symbolic link is refused before training, and the link's target is untouched", () => {
  const ra = tmp('ml-link-a-');
  const a = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', ra]);
  assert.equal(a.status, 0, a.stderr);
  const snapshot = (d: string) =>
    Object.fromEntries(fs.readdirSync(d).map((f) => [f, fs.readFileSync(path.join(d, f)).toString('base64')]));
  const before = snapshot(path.join(ra, 'model'));
  const rb = tmp('ml-link-b-');
  fs.symlinkSync(path.join(ra, 'model'), path.join(rb, 'model'));
  const b = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', rb]);
  assert.equal(b.status, 1, b.stderr);
  assert.match(
    b.stderr,
    /model\/ is a symbolic link \(to .*\); a save replaces and deletes weight files in it, which would change another folder/,
  );
  assert.doesNotMatch(b.stdout, /epoch 1\/1/, 'it trained before refusing');
  assert.deepEqual(snapshot(path.join(ra, 'model')), before, "the link's target changed");
  // A model that is a file, and a checkpoint.json that is a folder, are refused as well.
  const rc = tmp('ml-link-c-');
  fs.writeFileSync(path.join(rc, 'model'), 'x');
  assert.match(
    cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', rc]).stderr,
    /model is a file, expected the folder of the model files/,
  );
});

test(
  'train: two writers on one run folder — the second is refused naming the first process; a lock left by a killed process is taken over',
  { timeout: 300_000 },
  async () => {
    const run = path.join(tmp('ml-lock-'), 'run');
    const args = ['--loss', 'arcface', '--epochs', '400', ...small, '--max-steps', '3', '--run', run];
    const first = startTrain(args);
    first.stdout.resume();
    const readLock = () => {
      try {
        return JSON.parse(fs.readFileSync(path.join(run, '.lock'), 'utf8')) as { pid: number };
      } catch {
        return null;
      }
    };
    while (readLock() === null && first.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    const lock = readLock()!;
    assert.equal(lock.pid, first.pid);
    // --overwrite: past the check for a finished run, straight to the folder the first one writes.
    for (const extra of [['--overwrite']]) {
      const second = cli([...args, ...extra]);
      assert.notEqual(second.status, 0);
      assert.match(
        second.stderr,
        new RegExp(`run folder .* is in use by process ${first.pid} \\(since .*\\); two writers would mix their files`),
      );
    }
    first.kill('SIGINT');
    await new Promise((r) => (first.exitCode !== null ? r(null) : first.once('close', r)));
    assert.ok(!fs.existsSync(path.join(run, '.lock')), 'the lock was not released at exit');
    // A killed writer's lock (a process that no longer runs) does not block the run forever.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const other = tmp('ml-lock-stale-');
    fs.writeFileSync(
      path.join(other, '.lock'),
      JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), started: 'then' }),
    );
    const fresh = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', other]);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.match(
      fresh.stderr,
      new RegExp(`taking over the lock of process ${dead.stdout}, which is no longer running`),
    );
    assert.ok(!fs.existsSync(path.join(other, '.lock')));
  },
);

test(
  'train CLI: SIGTERM stops after the step like Ctrl-C (exit 143, one line on what was saved); the temp files a killed save left are removed by the next run and named',
  { timeout: 300_000 },
  async () => {
    const run = path.join(tmp('ml-sigterm-'), 'run');
    const args = ['--loss', 'arcface', '--epochs', '400', ...small, '--max-steps', '3', '--run', run];
    const child = startTrain(args);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    while (child.exitCode === null && !fs.existsSync(path.join(run, 'checkpoint.json')))
      await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) =>
      child.exitCode !== null ? r(child.exitCode) : child.once('close', r),
    );
    assert.equal(code, 143, stderr);
    assert.match(stderr, /terminated \(SIGTERM\): stopping after this step/);
    assert.match(
      stderr,
      /interrupted at epoch \d+, step \d+: .*holds epoch \d+; continue with: npm run train -- --resume --run /,
    );
    // Temp files as a save killed with SIGKILL leaves them (a pid that no longer runs), and one of a
    // live writer, which must be kept.
    const dead = Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout,
    );
    const left = [
      `.state-9-0a0b0c0d.bin.${dead}.1234abcd.tmp`,
      path.join('model', `.weights-9-0a0b0c0d.bin.${dead}.5678abcd.tmp`),
    ];
    for (const f of left) fs.writeFileSync(path.join(run, f), 'partial');
    const live = `.state-8-0a0b0c0d.bin.${process.pid}.9999abcd.tmp`;
    fs.writeFileSync(path.join(run, live), 'partial');
    const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) as { epoch: number };
    const resumed = cli(['--run', run, '--resume', '--epochs', String(ck.epoch + 1)]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      /removed 2 temp files that an interrupted save left \(.*\.state-9-0a0b0c0d\.bin\..*\.tmp, model\/\.weights-9-0a0b0c0d.*\.tmp\)/,
    );
    for (const f of left) assert.ok(!fs.existsSync(path.join(run, f)), `${f} is still there`);
    assert.ok(fs.existsSync(path.join(run, live)), "a live writer's temp file was removed");
  },
);

test("resume: a checkpoint whose step count is not its epochs' steps (edited, or other data) is refused before training", () => {
  const run = tmp('ml-step-');
  const first = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', run]);
  assert.equal(first.status, 0, first.stderr);
  const file = path.join(run, 'checkpoint.json');
  const ck = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(ck.step, 1, 'one epoch of 90 images in batches of 128');
  for (const step of [1e12, 2]) {
    fs.writeFileSync(file, JSON.stringify({ ...ck, step }));
    const r = cli(['--run', run, '--resume', '--epochs', '2']);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      new RegExp(
        `step ${step} is not epoch 1 × 1 steps per epoch \\(90 images, batch 128, at most 2 per epoch\\); the checkpoint was edited, or the run's data or batch size changed`,
      ),
    );
  }
});

test('loadEmbeddingModel: a model.json whose weights path leaves its folder (.., absolute, a link out) is refused without reading the file', async () => {
  const run = tmp('ml-paths-');
  const t = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', run]);
  assert.equal(t.status, 0, t.stderr);
  const mj = path.join(run, 'model', 'model.json');
  const json = JSON.parse(fs.readFileSync(mj, 'utf8'));
  const weights = json.weightsManifest[0].paths[0] as string;
  // A secret beside the run folder, the same size as the weights (it would load as weights).
  const secret = path.join(path.dirname(run), `secret-${path.basename(run)}.bin`);
  fs.copyFileSync(path.join(run, 'model', weights), secret);
  fs.symlinkSync(secret, path.join(run, 'model', 'link.bin'));
  for (const [p, why] of [
    [`../../${path.basename(secret)}`, /which climbs out of the folder with "\.\."/],
    [secret, /an absolute path/],
    ['link.bin', /a link to .*secret-.*\.bin, outside the folder/],
  ] as const) {
    const bad = { ...json, weightsManifest: [{ ...json.weightsManifest[0], paths: [p] }] };
    fs.writeFileSync(mj, JSON.stringify(bad));
    await assert.rejects(ml.loadEmbeddingModel(run), (e: Error) => {
      assert.match(e.message, why);
      assert.match(e.message, /a model's weights must be files in its own folder/);
      return true;
    });
  }
  // The real file name loads.
  fs.writeFileSync(mj, JSON.stringify(json));
  (await ml.loadEmbeddingModel(run)).dispose();
});

test('integrity: one flipped bit in a weights or state file, or 4 extra bytes, is refused on load, naming the file', async () => {
  const run = tmp('ml-sha-');
  const t = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', run]);
  assert.equal(t.status, 0, t.stderr);
  const ckFile = path.join(run, 'checkpoint.json');
  const ck = JSON.parse(fs.readFileSync(ckFile, 'utf8')) as {
    files: { weights: string; state: string; sha256: Record<string, string> };
  };
  assert.match(ck.files.sha256.weights, /^[0-9a-f]{64}$/);
  const flip = (rel: string) => {
    const f = path.join(run, rel);
    const b = fs.readFileSync(f);
    b[b.length >> 1] ^= 1;
    fs.writeFileSync(f, b);
    return () => {
      b[b.length >> 1] ^= 1;
      fs.writeFileSync(f, b);
    };
  };
  for (const rel of [ck.files.weights, ck.files.state]) {
    const undo = flip(rel);
    assert.throws(
      () => ml.loadForInference(ckFile),
      new RegExp(
        `${rel.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} does not match the SHA-256 it records .*: the file was changed or corrupted after it was written`,
      ),
    );
    if (rel === ck.files.weights)
      await assert.rejects(ml.loadEmbeddingModel(run), /does not match the SHA-256 it records/);
    undo();
  }
  ml.loadForInference(ckFile).model.dispose();
  // Extra bytes at the end of the weights: refused by size, naming the file.
  const w = path.join(run, ck.files.weights);
  fs.appendFileSync(w, Buffer.alloc(4));
  await assert.rejects(
    ml.loadEmbeddingModel(run),
    /weights file weights-.*\.bin holds \d+ bytes, the \d+ float32 weights model\.json lists need \d+; extra bytes/,
  );
  assert.throws(
    () => ml.loadForInference(ckFile),
    /has \d+ bytes, expected \d+ \(the tensors checkpoint\.json lists\)/,
  );
});

test('writeFilesTogether (an export bundle): a failure while writing any file leaves every target as it was, and no temp file', () => {
  const dir = tmp('ml-together-');
  const [a, b, c] = ['model.json', 'weights.bin', 'index.html'].map((f) => path.join(dir, f));
  fs.writeFileSync(a, 'run A');
  fs.writeFileSync(b, 'run A');
  fs.mkdirSync(c); // the third file cannot be written (as a full disk would refuse it)
  assert.throws(
    () =>
      writeFilesTogether([
        [a, 'run B'],
        [b, 'run B'],
        [c, 'run B'],
      ]),
    /cannot write .*index\.html: it is a folder/,
  );
  assert.equal(fs.readFileSync(a, 'utf8'), 'run A');
  assert.equal(fs.readFileSync(b, 'utf8'), 'run A');
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
  fs.rmdirSync(c);
  writeFilesTogether([
    [a, 'run B'],
    [b, 'run B'],
    [c, 'run B'],
  ]);
  for (const f of [a, b, c]) assert.equal(fs.readFileSync(f, 'utf8'), 'run B');
});

test('a checkpoint relabelled to another loss is refused naming the file and the loss', () => {
  const run = tmp('ml-relabel-');
  const t = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', run]);
  assert.equal(t.status, 0, t.stderr);
  const file = path.join(run, 'checkpoint.json');
  const ck = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(
    file,
    JSON.stringify({ ...ck, loss: { ...ck.loss, loss: 'cosface' }, config: { ...ck.config, lossName: 'cosface' } }),
  );
  assert.throws(
    () => ml.loadForInference(file),
    new RegExp(
      `checkpoint ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: its loss section does not build a "cosface" loss \\(.*\\); the checkpoint was edited or is damaged`,
    ),
  );
});

test('train CLI: an existing run is not overwritten unasked; --resume is checked against the checkpoint', () => {
  const run = tmp('ml-run-');
  const first = cli(['--loss', 'cosface', '--s', '16', '--m', '0.2', '--epochs', '1', ...small, '--run', run]);
  assert.equal(first.status, 0, first.stderr);
  const ck = fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8');

  const again = cli(['--loss', 'arcface', '--epochs', '1', ...small, '--run', run]);
  assert.equal(again.status, 2);
  assert.match(
    again.stderr,
    new RegExp(
      `run folder ${run.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} already holds a run \\(checkpoint.json, history.csv\\); nothing was changed. Continue it with --resume, replace it with --overwrite`,
    ),
  );
  assert.equal(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'), ck, 'checkpoint changed');

  const conflict = cli([
    '--run',
    run,
    '--resume',
    '--epochs',
    '2',
    '--loss',
    'arcface',
    '--m',
    '0.3',
    '--seen',
    '0-4',
    '--dim',
    '4',
  ]);
  assert.equal(conflict.status, 2);
  assert.match(conflict.stderr, /--resume: these flags differ from the run in .*checkpoint\.json:/);
  assert.match(conflict.stderr, /--loss arcface \(the checkpoint has cosface\)/);
  assert.match(conflict.stderr, /--m 0\.3 \(the checkpoint has 0\.2\)/);
  assert.match(conflict.stderr, /--seen 0-4 \(the checkpoint has 0,1,2\)/);
  assert.doesNotMatch(conflict.stderr, /--dim/, 'an equal flag is not a conflict');

  const resumed = cli(['--run', run, '--resume', '--epochs', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /training cosface on fashion-mnist classes 0,1,2 .* backbone mlp, dim 4/);
  const csv = fs.readFileSync(path.join(run, 'history.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3, 'header + 2 epochs');

  const both = cli(['--run', run, '--resume', '--overwrite']);
  assert.match(both.stderr, /--resume and --overwrite contradict each other/);
  const over = cli(['--loss', 'softmax', '--epochs', '1', ...small, '--run', run, '--overwrite']);
  assert.equal(over.status, 0, over.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')).loss.loss, 'softmax');
});

test('train CLI: history.csv is written after every epoch, while the run is still going', async () => {
  const run = tmp('ml-hist-');
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'dist', 'cli', 'train.js'), '--loss', 'softmax', '--epochs', '500', ...small, '--run', run],
    { cwd: ROOT, stdio: 'ignore' },
  );
  let exited = false;
  child.on('exit', () => (exited = true));
  const file = path.join(run, 'history.csv');
  const t0 = Date.now();
  while (!fs.existsSync(file) && Date.now() - t0 < 120_000 && !exited) await new Promise((r) => setTimeout(r, 100));
  const running = !exited;
  child.kill('SIGKILL');
  assert.ok(fs.existsSync(file), 'no history.csv appeared');
  assert.ok(running, 'the run finished before history.csv appeared');
  assert.match(fs.readFileSync(file, 'utf8'), /^epoch,loss,accuracy,lr,samplesPerSec,seconds\n1,/);
});

test(
  'inputs that could loop forever or exhaust memory (NaN scores, impossible pair counts, zero dims, huge class lists) fail fast with a clear error',
  { timeout: 20_000 },
  () => {
    assert.throws(
      () => ml.bestThreshold([0.9, NaN, 0.1], [1, 0, 0]),
      /bestThreshold: score 1 is NaN; scores must be finite numbers/,
    );
    const labels = Int32Array.from({ length: 20 }, (_, i) => i % 4);
    assert.throws(
      () => ml.evaluateEmbeddings(new Float32Array(40), 0, labels),
      /evaluateEmbeddings: dim must be a positive integer, got 0/,
    );
    assert.throws(
      () => ml.evaluateEmbeddings(new Float32Array(41), 2, labels),
      /41 embedding values do not match 20 labels × dim 2 \(= 40\)/,
    );
    // 4 classes × 5 images: 40 same-class pairs and 150 different-class pairs exist.
    assert.throws(
      () => ml.verificationPairs(labels, { folds: 10, perFold: 20 }),
      /200 same pairs requested \(10 folds × 20\) but only 40 exist/,
    );
    const lopsided = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    assert.throws(
      () => ml.verificationPairs(lopsided, { folds: 2, perFold: 20 }),
      /40 different-identity pairs requested \(2 folds × 20\) but only 24 exist/,
    );
    assert.throws(() => ml.verificationPairs(labels, { folds: 0 }), /folds must be a positive integer, got 0/);
    assert.throws(() => ml.parseClassList('0-5000000'), /0-5000000 names 5000001 classes; at most 100000 are allowed/);
    const r = cli(['--seen', '0-5000000', '--run', tmp('ml-seen-')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--seen: class list "0-5000000": 0-5000000 names 5000001 classes/);
    const r2 = cli(['--seen', '0-12', '--run', tmp('ml-seen-')]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /--seen names classes 10, 11, 12, but fashion-mnist has 10 classes \(0-9\)/);
  },
);

test(
  'IDX loader: zero or absurd dimensions fail before inflating, and a gzip bomb fails fast',
  { timeout: 20_000 },
  () => {
    const zlib = require('zlib') as typeof import('zlib');
    const dir = tmp('ml-idx-');
    const write = (name: string, bytes: Buffer) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, zlib.gzipSync(bytes));
      return f;
    };
    const zero = write('zero.gz', Buffer.from([0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28]));
    assert.throws(() => ml.readIdxFile(zero), /zero\.gz: the header declares a zero dimension \[0…\]/);
    const huge = write('huge.gz', Buffer.from([0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 28]));
    assert.throws(
      () => ml.readIdxFile(huge),
      /huge\.gz: the header declares dimensions \[4294967295, 4294967295, 28\] = \d+ bytes, more than the 2147483647 margin-lab reads/,
    );
    // 10 declared bytes followed by 64 MiB of zeros: compresses to ~64 KiB.
    const bomb = write(
      'bomb.gz',
      Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 10]), Buffer.alloc(64 * 1024 * 1024)]),
    );
    assert.ok(fs.statSync(bomb).size < 200_000);
    const t0 = Date.now();
    assert.throws(() => ml.readIdxFile(bomb), /bomb\.gz: inflates to more than the 18 bytes its IDX header declares/);
    assert.ok(Date.now() - t0 < 5000, 'the bomb was inflated in full');
    assert.equal(ml.loadFashionMnist({ split: 'test' }).y.length, 10_000, 'real files still load');
    // A header declaring 2,739,000 × 28 × 28 (just under 2 GiB) in place of Fashion-MNIST's
    // training images: refused by the data set's own size before anything is inflated.
    const fm = tmp('ml-idx-fm-');
    const header = Buffer.alloc(16);
    header.set([0, 0, 8, 3]);
    header.writeUInt32BE(2_739_000, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    fs.writeFileSync(
      path.join(fm, 'train-images-idx3-ubyte.gz'),
      zlib.gzipSync(Buffer.concat([header, Buffer.alloc(1 << 20)])),
    );
    fs.copyFileSync(
      path.join(ROOT, 'data', 'fashion-mnist', 'train-labels-idx1-ubyte.gz'),
      path.join(fm, 'train-labels-idx1-ubyte.gz'),
    );
    assert.throws(
      () => ml.loadFashionMnist({ dir: fm }),
      /train-images-idx3-ubyte\.gz: the header declares 2147376016 bytes, more than the 47040016 bytes of Fashion-MNIST's 60,000 training images; refused before inflating/,
    );
    // The same cap for any caller of readIdxFile, and a bad cap is an error.
    assert.throws(
      () => ml.readIdxFile(path.join(fm, 'train-images-idx3-ubyte.gz'), { maxBytes: 1000 }),
      /declares 2147376016 bytes, more than the 1000 bytes/,
    );
    assert.throws(() => ml.readIdxFile(zero, { maxBytes: -1 }), /maxBytes must be a positive integer, got -1/);
    assert.throws(() => ml.readIdxFile(dir), /is a folder, expected an IDX file/);
    // Fashion-MNIST's other options: no silent fallback to the test split, no meaningless limit.
    assert.throws(
      () => ml.loadFashionMnist({ split: 'validation' as 'test' }),
      /split must be 'train' or 'test', got "validation"/,
    );
    for (const limit of [-5, 0, Number.NaN, 2.5])
      assert.throws(
        () => ml.loadFashionMnist({ split: 'test', limit }),
        /limit must be an integer ≥ 1 \(images to keep\), got/,
      );
  },
);

test('LFW pairs.txt: path separators, "..", self-pairs and same-name impostors are errors', () => {
  assert.throws(
    () => ml.parseLfwPairs('1\t1\nA 1 2\nB 1 ../etc 1'),
    /line 3: identity name "\.\.\/etc" is not a plain folder name/,
  );
  assert.throws(
    () => ml.parseLfwPairs('1\t1\n.. 1 2\nB 1 C 1'),
    /line 2: identity name "\.\." is not a plain folder name/,
  );
  assert.throws(() => ml.parseLfwPairs('1\t1\nA 3 3\nB 1 C 1'), /line 2: a matched pair of image 3 with itself/);
  assert.throws(
    () => ml.parseLfwPairs('1\t1\nA 1 2\nB 1 B 2'),
    /line 3: a mismatched pair must name two identities, got "B" twice/,
  );
  const ok = ml.parseLfwPairs('1\t1\nA 1 2\nB 1 C 1', '/lfw');
  assert.equal(ok.length, 2);
  assert.equal(ok[0].fileA, path.join('/lfw', 'A', 'A_0001.jpg'));
});

test('figures: hostile titles, names and text stay text in Chromium; bad sizes and ids are refused', async () => {
  const evil = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  const fig: ml.Figure = {
    data: [{ type: 'scatter', x: [1, 2], y: [3, 4], name: evil, text: [evil, evil], mode: 'markers+text' }],
    layout: { title: { text: evil }, xaxis: { title: { text: evil } }, height: 300 },
  };
  const dir = tmp('ml-inject-');
  const file = ml.saveHtml(fig, path.join(dir, 'page.html'), evil);
  const html = fs.readFileSync(file, 'utf8');
  assert.ok(!html.includes('<script>window.__pwned'), 'the title reached the page as markup');
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto('file://' + file);
    await page.waitForSelector('.margin-lab-figure .main-svg', { timeout: 30_000 });
    assert.equal(await page.evaluate('window.__pwned'), undefined, 'a script from the figure ran');
    assert.deepEqual(dialogs, []);
    assert.equal(await page.title(), evil, 'the title is shown as text');
  } finally {
    await browser.close();
  }
  for (const [k, v] of [
    ['height', '300px"><script>alert(1)</script>'],
    ['width', -5],
    ['height', Infinity],
  ] as const) {
    assert.throws(
      () => ml.saveHtml({ data: [], layout: { [k]: v } }, path.join(dir, 'x.html')),
      new RegExp(`figure\\.layout\\.${k} must be a number of pixels from 1 to 20000`),
    );
  }
  assert.throws(
    () => ml.figureHtml(fig, { id: 'a" onload="alert(1)' }),
    /figureHtml: id "a\\" onload=\\"alert\(1\)" must start with a letter/,
  );
  await assert.rejects(
    ml.saveImage(fig, path.join(dir, 'x.png'), { width: '1});window.x=({' as unknown as number }),
    /saveImage width must be a number of pixels from 1 to 20000, got "1\}\);window\.x=\(\{"/,
  );
  assert.throws(() => ml.saveHtml(fig, dir), /cannot write .*: it is a folder/);
  assert.deepEqual(fs.readdirSync(dir), ['page.html'], 'a refused figure left a file');
});

test('clear errors instead of crashes: one class, huge dim, too few images for P×K, NaN checkpoint weights; chance-level warning', async () => {
  const one = cli(['--seen', '3', '--run', tmp('ml-one-')]);
  assert.equal(one.status, 2);
  assert.match(one.stderr, /--seen 3: names 1 class; training needs at least 2 seen classes/);
  const big = cli(['--dim', '100000000', '--run', tmp('ml-dim-')]);
  assert.equal(big.status, 2);
  assert.match(
    big.stderr,
    /--dim "100000000": expected an integer in \[1, 4096\] \(the papers use 128–512; larger embeddings only cost memory\)/,
  );
  const model = ml.buildBackbone(spec);
  const few: ml.TrainData = {
    x: new Float32Array(10 * 36),
    y: Int32Array.from([0, 0, 1, 1, 2, 2, 3, 3, 0, 1]),
    shape: [6, 6, 1],
  };
  await assert.rejects(
    ml.train({
      model,
      backbone: spec,
      loss: ml.tripletLoss({ margin: 0.2 }),
      data: few,
      epochs: 1,
      batchSize: 16,
      progress: 'none',
    }),
    /train: triplet draws P×K batches of P = 4 identities × K = 4 images = 16, but the data has only 10 images; give at least 16/,
  );
  // A checkpoint whose weights hold NaN is refused when it is loaded.
  const run = tmp('ml-nan-');
  const r = cli(['--loss', 'softmax', '--epochs', '1', ...small, '--run', run]);
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(run, 'checkpoint.json');
  const ck = JSON.parse(fs.readFileSync(file, 'utf8'));
  const weights = path.join(run, ck.files.weights);
  const w = fs.readFileSync(weights);
  w.writeFloatLE(NaN, ck.model[0].offset + 4);
  fs.writeFileSync(weights, w);
  // As a diverged run would have saved it: the recorded sum is that of the NaN bytes.
  ck.files.sha256.weights = createHash('sha256').update(w).digest('hex');
  fs.writeFileSync(file, JSON.stringify(ck));
  assert.throws(
    () => ml.loadForInference(file),
    /checkpoint: weight #0 holds NaN at element 1 \(of shape \[\d+, \d+\]\); it was saved from a diverged run or is damaged/,
  );
  // A run that does not learn ends with a warning (labels unrelated to the images, tiny lr).
  const noise: ml.TrainData = {
    x: new Float32Array(64 * 36),
    y: Int32Array.from({ length: 64 }, (_, i) => i % 4),
    shape: [6, 6, 1],
  };
  const res = await ml.train({
    model: ml.buildBackbone(spec),
    backbone: spec,
    loss: ml.softmaxLoss({ numClasses: 4, embeddingDim: 3 }),
    data: noise,
    epochs: 2,
    batchSize: 16,
    lr: 1e-9,
    progress: 'none',
  });
  assert.equal(res.warnings.length, 1);
  assert.match(
    res.warnings[0],
    /^final training accuracy \d+\.\d% is at chance level \(1\/4 = 25\.0%\) after 2 epochs: the model did not learn/,
  );
  model.dispose();
});

test('face folders: non-images and undecodable files are skipped and reported (strict stops); non-UTF-8 names show their bytes', async () => {
  const sharp = require('sharp');
  const root = tmp('ml-facefolder-');
  for (const id of ['ann', 'ben']) {
    fs.mkdirSync(path.join(root, id));
    for (let i = 1; i <= 3; i++) {
      await sharp({ create: { width: 10, height: 10, channels: 3, background: { r: 20 * i, g: 0, b: 0 } } })
        .png()
        .toFile(path.join(root, id, `${id}_${i}.png`));
    }
  }
  fs.writeFileSync(path.join(root, 'ann', 'notes.txt'), 'not an image');
  fs.writeFileSync(path.join(root, 'ben', 'broken.jpg'), 'this is not a JPEG');
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => warnings.push(m);
  let ds: ml.ImageFolderDataset;
  try {
    ds = await ml.loadImageFolder(root, { size: [4, 4] });
  } finally {
    console.warn = warn;
  }
  assert.equal(ds.y.length, 6, 'the six good images load');
  assert.equal(ds.files.length, 6);
  assert.deepEqual(
    ds.skipped.map((s) => [path.basename(s.file), s.reason.split(':')[0]]),
    [
      ['notes.txt', 'not .jpg, .jpeg or .png'],
      ['broken.jpg', 'not decodable'],
    ],
  );
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /skipped 2 file\(s\): ann\/notes\.txt \(not \.jpg, \.jpeg or \.png\); ben\/broken\.jpg \(not decodable: /,
  );
  await assert.rejects(ml.loadImageFolder(root, { size: [4, 4], strict: true }), /cannot read image .*broken\.jpg/);
  const bad = Buffer.concat([Buffer.from(root + '/'), Buffer.from([0x63, 0xff, 0x64])]);
  fs.mkdirSync(bad);
  await assert.rejects(
    ml.loadImageFolder(root, { size: [4, 4] }),
    /the name is not valid UTF-8 \(raw bytes 63 ff 64\); rename it/,
  );
});

test('plot builders: empty, NaN and mismatched inputs are clear errors', () => {
  assert.throws(() => ml.featuresOnCircle([], []), /featuresOnCircle: no points to draw/);
  assert.throws(
    () =>
      ml.featuresOnCircle(
        [
          [1, 0],
          [NaN, 1],
        ],
        [0, 1],
      ),
    /featuresOnCircle: point 1 has NaN in coordinate 0 \(NaN embeddings/,
  );
  assert.throws(() => ml.featuresOnSphere([[1, 0, 0]], [0, 1]), /featuresOnSphere: 1 points but 2 labels/);
  assert.throws(() => ml.featuresEuclidean2d([[1, Infinity]], [0]), /point 0 has Infinity in coordinate 1/);
  assert.throws(() => ml.rocCurves([]), /rocCurves: no runs to draw/);
  assert.throws(() => ml.trainingCurves([]), /trainingCurves: the history is empty/);
  assert.ok(
    ml.featuresOnCircle(
      [
        [1, 0],
        [0, 1],
      ],
      [0, 1],
    ).data.length > 0,
    'good input still draws',
  );
});

test('a run trained with --neck --dropout 0.995 (inside the declared [0, 1)) loads for eval and resumes; --dropout 1 is refused before training', () => {
  const run = tmp('ml-dropout-');
  const trained = cli([...small, '--epochs', '1', '--neck', '--dropout', '0.995', '--run', run]);
  assert.equal(trained.status, 0, trained.stderr);
  const loaded = ml.loadForInference(path.join(run, 'checkpoint.json'));
  assert.equal(loaded.data.backbone.dropout, 0.995);
  loaded.model.dispose();
  loaded.loss.dispose();
  const resumed = cli(['--resume', '--run', run, '--epochs', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const refused = cli([...small, '--neck', '--dropout', '1', '--run', tmp('ml-dropout-')]);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--dropout "1": expected a number in \[0, 1\)/);
});
