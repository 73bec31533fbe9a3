/**
 * The loss table (src/losses/registry.ts): one id per loss everywhere, options checked by type,
 * range and enum, flags that do not apply are errors naming the losses that take them, and every
 * hyperparameter reachable from the command line.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as os from 'os';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { lossFlagHelp, lossOptionsFromFlags } from 'margin-lab/dist/losses/flags';
import { ROOT } from './helpers/paths';
import { probeOptionAgreement } from './helpers/spec-probe';
import { AM_SOFTMAX_SPEC, AMSoftmax } from './helpers/am-softmax';

test('one id per loss: the table id, config().loss and createLoss agree, and the entry is found from the object', async () => {
  await ml.useBestBackend({ print: false });
  for (const e of ml.LOSS_TABLE) {
    const loss = ml.createLoss(e.id, { numClasses: 4, embeddingDim: 8 });
    assert.equal(loss.config().loss, e.id, `${e.id}: config().loss`);
    assert.equal(ml.entryOf(loss)?.id, e.id);
    // The same id in the loss's own messages: its name, and an option error names it.
    assert.equal(loss.name, e.id, `${e.id}: loss.name`);
    const [flag, o] = Object.entries(e.options).find(([, x]) => x.type === 'number' && x.min !== undefined) ?? [];
    if (flag && o) {
      const key = (o.path ?? [flag]).join('.');
      const bad = (o.path ?? [flag]).reduceRight<unknown>((v, k) => ({ [k]: v }), o.min! - 1) as object;
      assert.throws(
        () => ml.createLoss(e.id, { numClasses: 4, embeddingDim: 8, ...bad }),
        (err: Error) => err.message.startsWith(`${e.id}: ${key} must be`),
        `${e.id}: --${flag} below its minimum`,
      );
    }
    const again = ml.createLoss(e.id, loss.config() as ml.LossParams);
    assert.deepEqual(again.config(), loss.config(), `${e.id}: rebuilt from its config`);
    loss.dispose();
    again.dispose();
  }
  assert.deepEqual([...ml.PAIR_LOSSES], ['contrastive', 'triplet']);
});

test('dispose() frees every tensor a loss made (weights, bias, t, running statistics, centers), for every loss in the table', async () => {
  await ml.useBestBackend({ print: false });
  for (const e of ml.LOSS_TABLE) {
    const before = ml.tf.memory().numTensors;
    const loss = ml.createLoss(e.id, { numClasses: 4, embeddingDim: 8 });
    assert.ok(
      e.kind === 'pair' || ml.tf.memory().numTensors > before,
      `${e.id}: made no tensor (the check could not fail)`,
    );
    loss.dispose();
    assert.equal(
      ml.tf.memory().numTensors,
      before,
      `${e.id}: ${ml.tf.memory().numTensors - before} tensors left after dispose()`,
    );
  }
});

test('a classifier head refuses one class and a weight matrix too large to allocate, before allocating', () => {
  const before = ml.tf.memory().numTensors;
  for (const e of ml.LOSS_TABLE.filter((x) => x.kind !== 'pair')) {
    assert.throws(
      () => ml.createLoss(e.id, { numClasses: 1e9, embeddingDim: 4 }),
      /would hold 4 × (1000000000|\d+) = \d+ values \(\d+\.\d GiB\), more than the 268435456 \(1 GiB\) margin-lab allocates for one matrix; check numClasses and embeddingDim/,
      e.id,
    );
    assert.throws(
      () => ml.createLoss(e.id, { numClasses: 1, embeddingDim: 4 }),
      /numClasses must be at least 2 \(a classifier needs two classes to tell apart\), got 1/,
      e.id,
    );
  }
  assert.equal(ml.tf.memory().numTensors, before, 'a refused head left tensors behind');
});

test('createLoss refuses unknown option keys, naming the losses that take them', () => {
  assert.ok(ml.lossesWithOption('m').length >= 6, 'the losses with m');
  assert.throws(
    () => ml.createLoss('softmax', { numClasses: 3, embeddingDim: 4, m: 0.5 }),
    new RegExp(`^Error: m is not an option of softmax; losses with m: ${ml.lossesWithOption('m').join(', ')}$`),
  );
  assert.throws(
    () => ml.createLoss('arcface', { numClasses: 3, embeddingDim: 4, mm: 0.5 }),
    /mm is not an option of arcface; arcface takes: numClasses, embeddingDim, weights, init, seed, s, m, easyMargin, marginWarmup$/,
  );
  assert.throws(
    () => ml.createLoss('arcfce', { numClasses: 3, embeddingDim: 4 }),
    /unknown loss "arcfce"; expected one of softmax, normface/,
  );
});

test('flags become typed options: ranges, integers, enums, booleans and nested schedule keys', () => {
  assert.deepEqual(
    lossOptionsFromFlags('sphereface', { m: '3', 'lambda-base': '500', 'lambda-min': '2', normalized: true }),
    { m: 3, schedule: { base: 500, lambdaMin: 2 }, normalized: true },
  );
  assert.deepEqual(lossOptionsFromFlags('triplet', { miner: 'batchHard', reduction: 'mean', margin: '0.3' }), {
    miner: 'batchHard',
    reduction: 'mean',
    margin: 0.3,
  });
  assert.deepEqual(lossOptionsFromFlags('adaface', { h: '0.5', alpha: '0.02' }), { h: 0.5, alpha: 0.02 });
  assert.deepEqual(lossOptionsFromFlags('curricularface', { alpha: '0.05' }), { alpha: 0.05 });
  assert.deepEqual(lossOptionsFromFlags('softmax+center', { lambda: '0.01', alpha: '0.3' }), {
    lambda: 0.01,
    alpha: 0.3,
  });
  assert.throws(
    () => lossOptionsFromFlags('softmax', { m: '0.5' }),
    /--m is not an option of softmax; losses with m: sphereface, cosface, arcface/,
  );
  assert.throws(
    () => lossOptionsFromFlags('sphereface', { m: '2.5' }),
    /--m "2\.5": sphereface expects an integer in \[1, 8\] \(the paper uses 4\)/,
  );
  assert.throws(
    () => lossOptionsFromFlags('arcface', { m: '-1' }),
    /--m "-1": arcface expects a number in \[0, π\/2\)/,
  );
  assert.throws(
    () => lossOptionsFromFlags('triplet', { miner: 'semihard' }),
    /--miner "semihard": expects one of batchAll, batchHard, semiHard$/,
  );
  assert.throws(() => lossOptionsFromFlags('cosface', { s: 'abc' }), /--s "abc": cosface expects a number > 0/);
  // Every loss's per-epoch statistics come from the table.
  const sph = ml.sphereFace({ numClasses: 3, embeddingDim: 4 });
  assert.deepEqual(Object.keys(ml.lossStats(sph)), ['lambda']);
  assert.deepEqual(
    ml.lossStats(ml.softmaxCenterLoss({ numClasses: 3, embeddingDim: 4 })),
    {},
    'the center weight λ is not a schedule',
  );
});

test('train CLI: loss flags from the table, with errors naming the losses that take a flag', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'train.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    });
  const help = run(['--help']);
  assert.equal(help.status, 0);
  for (const flag of [
    '--h ',
    '--alpha ',
    '--lambda-base ',
    '--lambda-min ',
    '--reduction ',
    '--easy-margin',
    '--normalized',
    '--distance ',
  ])
    assert.ok(help.stdout.includes(flag), `--help lacks ${flag}`);
  assert.match(help.stdout, /--K <value>\s+sub-centers per class \(default 3\) \[subcenter-arcface\]/);
  const bad = run(['--loss', 'softmax', '--m', '0.5', '--run', fs.mkdtempSync(path.join(os.tmpdir(), 'ml-tbl-'))]);
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    new RegExp(`--m is not an option of softmax; losses with m: ${ml.lossesWithOption('m').join(', ')}`),
  );
  const sched = run(['--schedule', 'cosin', '--run', fs.mkdtempSync(path.join(os.tmpdir(), 'ml-tbl-'))]);
  assert.match(sched.stderr, /--schedule "cosin": expected one of constant, step, cosine/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-tbl-'));
  const ok = run([
    '--loss',
    'sphereface',
    '--m',
    '3',
    '--lambda-base',
    '100',
    '--backbone',
    'mlp',
    '--dim',
    '4',
    '--seen',
    '0-2',
    '--epochs',
    '1',
    '--max-steps',
    '2',
    '--train-per-class',
    '20',
    '--run',
    dir,
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  const ck = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
  assert.equal(ck.loss.m, 3);
  assert.equal(ck.loss.schedule.base, 100);
});

test('every loss factory refuses option keys it does not take, naming them and what it takes', () => {
  const head = { numClasses: 3, embeddingDim: 4 };
  const cases: [string, () => unknown, RegExp][] = [
    [
      'softmaxLoss',
      () => ml.softmaxLoss({ ...head, s: 30 } as never),
      /softmax: "s" is not an option of softmax; it takes numClasses, embeddingDim, weights, init, seed, bias/,
    ],
    ['normFace', () => ml.normFace({ ...head, m: 0.2 } as never), /normface: "m" is not an option/],
    ['sphereFace', () => ml.sphereFace({ ...head, margin: 4 } as never), /sphereface: "margin" is not an option/],
    [
      'sphereFace schedule',
      () => ml.sphereFace({ ...head, schedule: { gama: 0.1 } } as never),
      /sphereface schedule: "gama" is not an option of sphereface schedule; it takes base, gamma, power, lambdaMin, iteration/,
    ],
    [
      'cosFace',
      () => ml.cosFace({ ...head, margin: 0.35 } as never),
      /cosface: "margin" is not an option of cosface; it takes numClasses, embeddingDim, weights, init, seed, s, m, marginWarmup$/,
    ],
    ['arcFace', () => ml.arcFace({ ...head, bias: [0, 0, 0] } as never), /arcface: "bias" is not an option/],
    ['combinedMargin', () => ml.combinedMargin({ ...head, m: 0.5 } as never), /combined: "m" is not an option/],
    [
      'curricularFace',
      () => ml.curricularFace({ ...head, easyMargin: true } as never),
      /curricularface: "easyMargin" is not an option/,
    ],
    [
      'subCenterArcFace',
      () => ml.subCenterArcFace({ ...head, k: 3 } as never),
      /subcenter-arcface: "k" is not an option/,
    ],
    ['adaFace', () => ml.adaFace({ ...head, H: 0.3, t: 1 } as never), /adaface: "H", "t" are not options of adaface/],
    ['centerLoss', () => ml.centerLoss({ ...head, lambda: 0.1 } as never), /centerLoss: "lambda" is not an option/],
    [
      'softmaxCenterLoss',
      () => ml.softmaxCenterLoss({ ...head, centers: [] } as never),
      /softmax\+center: "centers" is not an option/,
    ],
    [
      'contrastiveLoss',
      () => ml.contrastiveLoss({ numClasses: 3 } as never),
      /contrastive: "numClasses" is not an option of contrastive; it takes margin, distance, normalize/,
    ],
    [
      'tripletLoss',
      () => ml.tripletLoss({ alpha: 0.2 } as never),
      /triplet: "alpha" is not an option of triplet; it takes margin, miner, reduction/,
    ],
    [
      'tripletLoss (not an object)',
      () => ml.tripletLoss(0.2 as never),
      /triplet: options must be an object with keys among margin, miner, reduction; got 0\.2/,
    ],
  ];
  for (const [name, make, msg] of cases) assert.throws(make, msg, name);
  // Every key each factory documents is still accepted (undefined values included).
  const ok = [
    ml.arcFace({ ...head, s: 30, m: 0.4, easyMargin: true, seed: 1, weights: undefined }),
    ml.sphereFace({ ...head, m: 3, schedule: { base: 100, gamma: 0.1, power: 1, lambdaMin: 5, iteration: 7 } }),
    ml.tripletLoss({ margin: 0.3, miner: 'batchHard', reduction: 'mean' }),
  ];
  assert.equal((ok[1] as ml.SphereFace).schedule.iteration, 7);
  ok.forEach((l) => l.dispose());
});

test('every default a spec declares is the default the loss really uses (config() of a loss built without the option), and the help states it', () => {
  const checked: string[] = [];
  for (const e of ml.LOSS_TABLE) {
    const loss = ml.createLoss(e.id, { numClasses: 4, embeddingDim: 8 });
    // Some options only exist under a switch (SphereFace's s with `normalized`): a second loss
    // with every boolean option on shows those.
    const switches = Object.fromEntries(
      Object.entries(e.options)
        .filter(([, o]) => o.type === 'boolean')
        .map(([flag, o]) => [(o.path ?? [flag])[0], true]),
    );
    const withSwitches = ml.createLoss(e.id, { numClasses: 4, embeddingDim: 8, ...switches });
    const configs = [loss.config(), withSwitches.config()] as Record<string, unknown>[];
    withSwitches.dispose();
    const help = new Map(lossFlagHelp().map((h) => [h.flag, h.help]));
    for (const [flag, opt] of Object.entries(e.options)) {
      if (opt.default === undefined) continue;
      const keyPath = opt.path ?? [flag];
      const at = (c: Record<string, unknown>) =>
        keyPath.reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], c);
      const v = at(configs[0]) ?? at(configs[1]);
      assert.notEqual(v, undefined, `${e.id} --${flag}: config() has nothing at ${keyPath.join('.')}`);
      assert.equal(v, opt.default, `${e.id} --${flag}: the spec says default ${opt.default}, the loss uses ${v}`);
      if (opt.type !== 'boolean')
        assert.ok(
          help.get(flag)!.includes(String(opt.default)),
          `${e.id} --${flag}: the help (${help.get(flag)}) does not state the default ${opt.default}`,
        );
      checked.push(`${e.id} --${flag}`);
    }
    loss.dispose();
  }
  assert.ok(checked.length >= 30, `only ${checked.length} defaults checked: ${checked.join(', ')}`);
});

test('the command line and the API take the same values: every bounded option, probed at and around its bounds, is accepted by lossOptionsFromFlags exactly when the factory accepts it', () => {
  const { disagree, probes } = probeOptionAgreement();
  assert.ok(probes > 100, `only ${probes} probes`);
  assert.deepEqual(disagree, []);
});

test('adding a loss: its file (class, factory, spec) and one line in a table give it parsing, range checks, help, a docs row and config round-trips (AM-Softmax, not shipped)', () => {
  const table = [...ml.LOSS_TABLE, AM_SOFTMAX_SPEC];
  const two = { numClasses: 4, embeddingDim: 3 };
  const loss = ml.createLoss('am-softmax', two, table) as AMSoftmax;
  assert.ok(loss instanceof AMSoftmax);
  assert.deepEqual(loss.config(), { loss: 'am-softmax', ...two, s: 30, m: 0.35 });
  // It is CosFace at s = 30: the same loss value on the same weights and batch.
  const w = loss.W.arraySync() as number[][];
  const cos = ml.cosFace({ ...two, s: 30, m: 0.35, weights: w });
  const x = ml.tf.tensor2d([
    [1, 0.2, -0.3],
    [0.1, 1, 0.4],
    [-0.5, 0.3, 1],
  ]);
  const [a, b] = [loss, cos].map((l) => ml.tf.tidy(() => l.compute(x, [0, 2, 3]).dataSync()[0]));
  assert.ok(Math.abs(a - b) < 1e-6, `AM-Softmax ${a} vs CosFace ${b}`);
  x.dispose();
  cos.dispose();
  // Flags, with the spec's ranges; help and docs from the spec.
  assert.deepEqual(lossOptionsFromFlags('am-softmax', { s: '20', m: '0.2' }, table), { s: 20, m: 0.2 });
  assert.throws(
    () => lossOptionsFromFlags('am-softmax', { m: '2' }, table),
    /--m "2": am-softmax expects a number in \[0, 2\)/,
  );
  assert.throws(
    () => lossOptionsFromFlags('am-softmax', { K: '3' }, table),
    /--K is not an option of am-softmax; losses with K: subcenter-arcface/,
  );
  const help = lossFlagHelp(table);
  assert.match(help.find((h) => h.flag === 's')!.help, /; am-softmax 30/);
  assert.ok(help.find((h) => h.flag === 'm')!.losses.includes('am-softmax'));
  assert.match(
    ml.lossOptionsMarkdown(table),
    /\| am-softmax \| `--m` \| `m` \| \[0, 2\) \| `0\.35` \| additive cosine margin m \|/,
  );
  assert.doesNotMatch(ml.lossOptionsMarkdown(), /am-softmax/, 'the shipped table is unchanged');
  // Its config round-trips, and the command line and the factory agree on its values too.
  const again = ml.createLoss('am-softmax', loss.config() as ml.LossParams, table);
  assert.deepEqual(again.config(), loss.config());
  assert.deepEqual(probeOptionAgreement(table).disagree, []);
  assert.throws(() => ml.createLoss('am-softmax', two), /unknown loss "am-softmax"; expected one of softmax, /);
  // A spec whose default its own range refuses is an error when it is declared.
  assert.throws(
    () =>
      ml.defineLoss({
        ...AM_SOFTMAX_SPEC,
        id: 'bad',
        options: {
          s: ml.scaleOption(30),
          m: { type: 'number', min: 0, max: 2, exclusiveMax: true, default: 2, help: 'm' },
        },
      }),
    /defineLoss\(bad\): the default 2 of --m is outside its own range/,
  );
  // The compiler links a spec to its options type: a spec that leaves out an option of the
  // interface, or declares one the interface lacks, does not compile (build:test fails if the
  // check stops working, since each @ts-expect-error then has no error to expect).
  // @ts-expect-error the spec lacks m, which AMSoftmaxOptions declares
  ml.defineLoss({ ...AM_SOFTMAX_SPEC, id: 'no-m', options: { s: ml.scaleOption(30) } });
  const withK = { ...AM_SOFTMAX_SPEC.options, K: { type: 'integer', min: 1, default: 3, help: 'K' } } as const;
  // @ts-expect-error K is not a key of AMSoftmaxOptions
  ml.defineLoss({ ...AM_SOFTMAX_SPEC, id: 'extra-k', options: withK });
  loss.dispose();
  again.dispose();
});

test('the checks the spec cannot declare: cross-option rules and restored state are refused with the loss id', () => {
  const head = { numClasses: 3, embeddingDim: 4 };
  assert.throws(
    () => ml.sphereFace({ ...head, lambda: 5, schedule: { base: 100 } }),
    /sphereface: give lambda \(a fixed λ\) or schedule \(an annealed one\), not both/,
  );
  assert.throws(() => ml.sphereFace({ ...head, s: 30 }), /sphereface: s 30 applies with normalized: true only/);
  assert.throws(
    () => ml.sphereFace({ ...head, schedule: { base: -1 } }),
    /sphereface: schedule\.base must be a number ≥ 0, got -1/,
  );
  assert.throws(
    () => ml.sphereFace({ ...head, schedule: 5 } as never),
    /sphereface: schedule must be an object with base, gamma, power, lambdaMin, got 5/,
  );
  assert.throws(() => ml.curricularFace({ ...head, t: 2 }), /curricularface: t must be a number in \[-1, 1\], got 2/);
  assert.throws(() => ml.adaFace({ ...head, initialStd: -1 }), /adaface: initialStd must be a number ≥ 0, got -1/);
  assert.throws(
    () => ml.softmaxLoss({ ...head, bias: [0, Number.NaN, 0] }),
    /softmax: bias must be an array of 3 finite numbers \(one per class\), got 3 entries/,
  );
  assert.throws(
    () => ml.arcFace({ ...head, marginWarmup: 100 } as never),
    /arcface: marginWarmup must be an object with steps, got 100/,
  );
  // A custom triplet miner is a function; config() stores its name.
  const mine: ml.TripletMiner = function hardest(input) {
    return ml.miners.batchHard(input);
  };
  assert.equal(ml.tripletLoss({ miner: mine }).config().miner, 'hardest');
  // Defaults are resolved once, by the spec: a loss built without options reports them.
  assert.deepEqual(ml.tripletLoss().config(), {
    loss: 'triplet',
    margin: 0.2,
    miner: 'semiHard',
    reduction: 'mean-active',
  });
});

test('docs/losses.md states every option as the specs declare it (npm run docs:losses writes the table)', () => {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'losses.md'), 'utf8');
  const m = /<!-- options:begin -->\n([\s\S]*?)\n<!-- options:end -->/.exec(text);
  assert.ok(m, 'docs/losses.md has no options section');
  assert.equal(m[1], ml.lossOptionsMarkdown(), 'docs/losses.md differs from the specs: run npm run docs:losses');
});

test("docs/losses.md's hand-written master table has a row for every shipped loss, by its factory, and no row for a factory that is not one", () => {
  const md = fs.readFileSync(path.join(ROOT, 'docs', 'losses.md'), 'utf8');
  const from = md.indexOf('## The master table');
  assert.ok(from >= 0, 'docs/losses.md has no master table');
  const rest = md.slice(from + 1);
  const table = rest.slice(0, rest.indexOf('\n## '));
  const rows = [...table.matchAll(/^\| [^|]*\(`(\w+)`\)/gm)].map((m) => m[1]);
  const factories = ml.LOSS_TABLE.map((e) => e.factory.name);
  assert.deepEqual(
    factories.filter((f) => !rows.includes(f)),
    [],
    'shipped losses without a row in the master table',
  );
  assert.deepEqual(
    rows.filter((r) => !factories.includes(r)),
    [],
    'master-table rows that name no shipped factory',
  );
});
