import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';
import { LOSS_NAMES } from 'margin-lab/dist/losses/registry';

function cli(tool: 'train' | 'eval' | 'embed', args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', `${tool}.js`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

test('train → eval → embed on a small Fashion-MNIST open-set run', () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-cli-'));
  const t = cli('train', [
    '--loss',
    'arcface',
    '--dataset',
    'fashion-mnist',
    '--seen',
    '0-4',
    '--dim',
    '16',
    '--backbone',
    'mlp',
    '--epochs',
    '2',
    '--max-steps',
    '3',
    '--train-per-class',
    '60',
    '--s',
    '16',
    '--run',
    run,
  ]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /margin-lab backend: \w+ on /);
  assert.match(t.stderr, /epoch 2\/2 \[=+\] 100% 3\/3 loss \d/);
  assert.ok(fs.existsSync(path.join(run, 'checkpoint.json')));
  const csv = fs.readFileSync(path.join(run, 'history.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[0], /^epoch,loss,accuracy,lr,samplesPerSec,seconds/);

  const e = cli('eval', ['--run', run, '--per-class', '60', '--pairs-per-fold', '20']);
  assert.equal(e.status, 0, e.stderr);
  for (const line of [
    /unseen classes 5,6,7,8,9/,
    /10-fold accuracy\s+\d+\.\d+% ± \d/,
    /EER\s+\d/,
    /TAR @ FAR=1e-1\s+\d/,
    /TAR @ FAR=1e-3\s+n\/a \(needs ≥ 1000 impostor pairs, have 200\)/,
    /rank-1 identification/,
    /DIR @ FAR=1e-1/,
  ]) {
    assert.match(e.stdout, line);
  }
  const j = cli('eval', ['--run', run, '--per-class', '60', '--pairs-per-fold', '20', '--json']);
  const report = JSON.parse(j.stdout);
  assert.equal(report.pairs.genuine, 200);
  assert.ok(report.auc > 0 && report.auc <= 1);

  const out = path.join(run, 'unseen.csv');
  const m = cli('embed', ['--run', run, '--out', out, '--per-class', '7']);
  assert.equal(m.status, 0, m.stderr);
  const rows = fs.readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(rows.length, 1 + 35);
  assert.equal(rows[0].split(',').length, 2 + 16);
  assert.match(rows[1], /^[5-9],"(Sandal|Shirt|Sneaker|Bag|Ankle boot)",-?\d/);
  const jout = path.join(run, 'seen.json');
  assert.equal(cli('embed', ['--run', run, '--out', jout, '--split', 'seen', '--per-class', '3']).status, 0);
  const parsed = JSON.parse(fs.readFileSync(jout, 'utf8'));
  assert.equal(parsed.embeddings.length, 15);
  assert.equal(parsed.embeddings[0].length, 16);
});

test('train: the printed eval hint is safe to paste, whatever the run folder is called', () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-cli-quote-'));
  const run = path.join(parent, "a b; touch PWNED 'x'");
  const t = cli('train', [
    '--loss',
    'softmax',
    '--dataset',
    'fashion-mnist',
    '--seen',
    '0-4',
    '--dim',
    '4',
    '--backbone',
    'mlp',
    '--epochs',
    '1',
    '--max-steps',
    '1',
    '--train-per-class',
    '20',
    '--run',
    run,
  ]);
  assert.equal(t.status, 0, t.stderr);
  const hint = /^evaluate with: npm run eval -- --run (.*)$/m.exec(t.stdout);
  assert.ok(hint, t.stdout);
  // The shell sees one argument, the run folder, and runs nothing else.
  const sh = spawnSync('bash', ['-c', `printf '%s' ${hint[1]}`], { cwd: parent, encoding: 'utf8' });
  assert.equal(sh.status, 0, sh.stderr);
  assert.equal(path.resolve(ROOT, sh.stdout), run);
  assert.ok(!fs.existsSync(path.join(parent, 'PWNED')), 'the hint ran a command');
  fs.rmSync(parent, { recursive: true, force: true });
});

test('--help documents every flag; bad flags give a clear error', () => {
  const h = cli('train', ['--help']);
  assert.equal(h.status, 0);
  for (const flag of [
    '--loss',
    '--dataset',
    '--seen',
    '--unseen',
    '--backbone',
    '--dim',
    '--epochs',
    '--batch',
    '--optimizer',
    '--lr',
    '--schedule',
    '--s',
    '--m',
    '--run',
    '--resume',
    '--init',
  ]) {
    assert.ok(h.stdout.includes(flag), `--help lacks ${flag}`);
  }
  const bad = cli('train', ['--los', 'arcface']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /error: Unknown option '--los'/);
  const badLoss = cli('train', ['--loss', 'magface']);
  assert.equal(badLoss.status, 2);
  assert.match(badLoss.stderr, /--loss "magface": expected one of softmax, normface/);
  const badDim = cli('train', ['--dim', 'two']);
  assert.match(badDim.stderr, /--dim "two": expected an integer in \[1, 4096\]/);
  const badInit = cli('train', ['--init', 'uniform']);
  assert.equal(badInit.status, 2);
  assert.match(badInit.stderr, /--init "uniform": expected spread or normal/);
  const pairInit = cli('train', ['--loss', 'contrastive', '--init', 'spread']);
  assert.equal(pairInit.status, 2);
  assert.match(pairInit.stderr, /--init does not apply to contrastive: it has no class weights/);
  const noRun = cli('eval', []);
  assert.match(noRun.stderr, /give --run DIR/);
  const badOut = cli('embed', ['--run', 'x', '--out', 'e.txt']);
  assert.match(badOut.stderr, /--out e.txt: the file must end in .csv or .json/);
  const missing = cli('eval', ['--run', path.join(os.tmpdir(), 'no-such-run')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--run .*no-such-run: no such folder/);
});

test('every loss trains from the CLI (pair losses on P×K batches) and its run evaluates', () => {
  assert.ok(LOSS_NAMES.length >= 12, `only ${LOSS_NAMES.length} losses registered`);
  for (const loss of LOSS_NAMES) {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), `ml-cli-${loss.replace('+', '-')}-`));
    const t = cli('train', [
      '--loss',
      loss,
      '--backbone',
      'mlp',
      '--dim',
      '8',
      '--epochs',
      '1',
      '--max-steps',
      '2',
      '--train-per-class',
      '40',
      '--run',
      run,
    ]);
    assert.equal(t.status, 0, `${loss}: ${t.stderr}`);
    const e = cli('eval', ['--run', run, '--per-class', '20', '--pairs-per-fold', '5', '--json']);
    assert.equal(e.status, 0, `${loss}: ${e.stderr}`);
    assert.equal(JSON.parse(e.stdout).loss.loss, loss);
  }
});

test('train: the recipe flags (BN, neck, SGD + Nesterov + weight decay, margin warm-up) reach the checkpoint, and --resume checks them', () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-cli-recipe-'));
  const base = [
    '--loss',
    'arcface',
    '--dataset',
    'fashion-mnist',
    '--seen',
    '0-4',
    '--dim',
    '8',
    '--backbone',
    'reference',
  ];
  const small = ['--max-steps', '2', '--train-per-class', '40', '--s', '16'];
  // Flags off their defaults, so that the --resume round trip below checks where each is kept.
  const rest = ['--unseen', '5-6', '--dropout', '0.1', '--batch', '32', '--momentum', '0.8'];
  rest.push('--schedule', 'cosine', '--warmup', '1', '--seed', '3');
  const recipe = ['--bn', '--neck', '--optimizer', 'sgd', '--lr', '0.05', '--nesterov', '--weight-decay', '5e-4'];
  recipe.push('--margin-warmup', '10', ...rest);
  const t = cli('train', [...base, ...small, '--epochs', '1', ...recipe, '--run', run]);
  assert.equal(t.status, 0, t.stderr);
  const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'));
  assert.equal(ck.backbone.batchNorm, true);
  assert.equal(ck.backbone.neck, true);
  assert.equal(ck.backbone.neckLayout, 'bn-relu', 'the default layout with --bn is recorded');
  assert.equal(ck.config.nesterov, true);
  assert.equal(ck.config.weightDecay, 5e-4);
  assert.deepEqual(ck.loss.marginWarmup, { steps: 10, iteration: 2 });
  const conflict = cli('train', [
    ...['--run', run, '--resume', '--epochs', '2', '--weight-decay', '1e-3', '--nesterov'],
    ...['--neck-layout', 'bn2d'],
  ]);
  assert.equal(conflict.status, 2);
  assert.match(conflict.stderr, /--weight-decay 1e-3 \(the checkpoint has 0\.0005\)/);
  assert.match(conflict.stderr, /--neck-layout bn2d \(the checkpoint has bn-relu\)/);
  const resumed = cli('train', ['--run', run, '--resume', '--epochs', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const ck2 = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'));
  assert.equal(ck2.epoch, 2);
  assert.equal(ck2.config.nesterov, true, 'the resumed run keeps Nesterov');
  assert.deepEqual(ck2.loss.marginWarmup, { steps: 10, iteration: 4 }, 'the ramp goes on where it stopped');
  // Every flag of the first run, given again with --resume, agrees with what the checkpoint keeps:
  // each flag's `stored` (src/cli/train.ts) reads back the value its parse wrote.
  const again = cli('train', [...base, ...small, ...recipe, '--run', run, '--resume', '--epochs', '3']);
  assert.equal(again.status, 0, again.stderr);
  // Flags that do not apply are refused.
  const adamNesterov = cli('train', [...base, ...small, '--nesterov', '--run', path.join(run, 'x')]);
  assert.equal(adamNesterov.status, 2);
  assert.match(adamNesterov.stderr, /--nesterov applies to --optimizer sgd only, not adam/);
  const dropout = cli('train', [...base, ...small, '--dropout', '0.2', '--run', path.join(run, 'y')]);
  assert.match(dropout.stderr, /--dropout 0.2 applies inside the BN neck; give --neck too/);
  const mlpBn = cli('train', [...base.slice(0, -1), 'mlp', ...small, '--bn', '--run', path.join(run, 'z')]);
  assert.match(mlpBn.stderr, /--bn adds BatchNorm after convolutions and the mlp backbone has none/);
  const layoutNoNeck = cli('train', [...base, ...small, '--bn', '--neck-layout', 'bn2d', '--run', path.join(run, 'l')]);
  assert.equal(layoutNoNeck.status, 2);
  assert.match(layoutNoNeck.stderr, /--neck-layout applies to the reference backbone with --neck only; add --neck/);
  const layoutBad = cli('train', [...base, ...small, '--neck', '--neck-layout', 'bn', '--run', path.join(run, 'm')]);
  assert.match(layoutBad.stderr, /--neck-layout "bn": expected one of bn-relu, relu-bn, bn2d/);
  const layoutLenet = cli('train', [
    ...[...base.slice(0, -1), 'lenetpp', ...small, '--neck', '--neck-layout', 'bn2d'],
    ...['--run', path.join(run, 'n')],
  ]);
  assert.match(layoutLenet.stderr, /--neck-layout applies to the reference backbone with --neck only, not lenetpp/);
});

test('train: flags that would do nothing are refused (--run "", --width on mlp, --s on plain SphereFace, --resume to an epoch already reached)', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-noop-flags-'));
  const small = ['--backbone', 'mlp', '--dim', '4', '--seen', '0-2', '--max-steps', '2', '--train-per-class', '30'];
  const refused = (args: string[], msg: RegExp) => {
    const r = cli('train', args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  };
  refused(
    ['--loss', 'arcface', ...small, '--run', ''],
    /--run "": expected a folder name \(an empty one would write into the current folder\)/,
  );
  // A bad number is refused before the backend starts or the data loads (no "training …" line).
  for (const [flag, value, msg] of [
    ['--batch', '1', /--batch "1": expected an integer ≥ 2/],
    ['--lr', 'fast', /--lr "fast": expected a number > 0/],
    ['--epochs', '0.5', /--epochs "0\.5": expected an integer ≥ 1/],
    ['--lr', '', /--lr "": expected a number > 0, got nothing/],
    ['--seed', '1e20', /--seed "1e20": expected an integer ≥ 0 up to 9007199254740991 \(2⁵³ − 1/],
  ] as const) {
    const r = cli('train', [...small, flag, value, '--run', path.join(root, 'early')]);
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.doesNotMatch(r.stdout, /training /, `${flag} ${value} is refused before training starts`);
  }
  refused(
    ['--loss', 'arcface', ...small, '--width', '2', '--run', path.join(root, 'w')],
    /--width applies to the lenetpp and resnet backbones only; mlp has no channel multiplier/,
  );
  const sphere = cli('train', ['--loss', 'sphereface', '--s', '30', ...small, '--run', path.join(root, 's')]);
  assert.equal(sphere.status, 1, sphere.stderr);
  assert.match(
    sphere.stderr,
    /sphereface: s 30 applies with normalized: true only; without it the logits are scaled by the feature norm/,
  );
  assert.throws(
    () => ml.sphereFace({ numClasses: 3, embeddingDim: 2, s: 30 }),
    /s 30 applies with normalized: true only/,
  );
  assert.equal(ml.sphereFace({ numClasses: 3, embeddingDim: 2, s: 30, normalized: true }).s, 30);
  for (const d of ['w', 's']) assert.ok(!fs.existsSync(path.join(root, d)), `${d}: a refused run left a folder`);
  // A run at epoch 2 asked to "resume" to epoch 1 or 2 would train nothing.
  const run = path.join(root, 'r');
  const first = cli('train', ['--loss', 'arcface', ...small, '--epochs', '2', '--run', run]);
  assert.equal(first.status, 0, first.stderr);
  const before = fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8');
  for (const epochs of ['1', '2'])
    refused(
      ['--run', run, '--resume', '--epochs', epochs],
      new RegExp(
        `--epochs ${epochs}: the run in .* is already at epoch 2, so nothing would train; --epochs is the total to reach, give more than 2`,
      ),
    );
  assert.equal(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'), before, 'the checkpoint changed');
  // The width of a conv backbone is still taken and recorded.
  const conv = cli('train', [
    '--loss',
    'arcface',
    '--backbone',
    'lenetpp',
    '--width',
    '0.5',
    '--dim',
    '4',
    '--seen',
    '0-2',
    '--max-steps',
    '1',
    '--train-per-class',
    '10',
    '--epochs',
    '1',
    '--run',
    path.join(root, 'c'),
  ]);
  assert.equal(conv.status, 0, conv.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'c', 'checkpoint.json'), 'utf8')).backbone.width, 0.5);
  fs.rmSync(root, { recursive: true });
});

test('output paths that cannot be written are explained in one line before anything trains: a file in the way, a folder for a file, a read-only mount', (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-outpaths-'));
  const afile = path.join(root, 'afile');
  fs.writeFileSync(afile, 'x');
  fs.mkdirSync(path.join(root, 'folder.csv'));
  const small = [
    '--loss',
    'arcface',
    '--backbone',
    'mlp',
    '--dim',
    '4',
    '--seen',
    '0-2',
    '--max-steps',
    '2',
    '--train-per-class',
    '30',
    '--epochs',
    '1',
  ];
  const refused = (tool: 'train' | 'eval' | 'embed', args: string[], msg: RegExp) => {
    const r = cli(tool, args);
    assert.equal(r.status, 2, `${tool} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')).length,
      1,
    );
    assert.doesNotMatch(r.stdout, /^epoch /m, 'it trained first');
  };
  refused('train', [...small, '--run', afile], /--run .*afile: is a file, expected a folder/);
  refused(
    'train',
    [...small, '--run', path.join(afile, 'sub')],
    /cannot write there: .*afile is a file, so no folder can be made inside it/,
  );
  refused(
    'train',
    [...small, '--run', '/proc/margin-lab-run'],
    /--run \/proc\/margin-lab-run: cannot write there: \/proc does not accept new files/,
  );
  assert.ok(!fs.existsSync('/proc/margin-lab-run'));
  const run = path.join(root, 'run');
  assert.equal(cli('train', [...small, '--run', run]).status, 0);
  refused(
    'eval',
    ['--checkpoint', run],
    /--checkpoint .*run: is a folder, expected a checkpoint\.json file \(for a run folder, use --run /,
  );
  refused('eval', ['--run', afile], /--run .*afile: is a file, expected a run folder/);
  refused('eval', ['--run', root], /holds no checkpoint\.json/);
  refused(
    'embed',
    ['--run', run, '--out', path.join(afile, 'x.csv')],
    /afile is a file, so nothing can be written inside it/,
  );
  refused(
    'embed',
    ['--run', run, '--out', path.join(root, 'folder.csv')],
    /folder\.csv: is a folder, expected a file name/,
  );
  assert.deepEqual(
    fs.readdirSync(run, { recursive: true }).map(String).sort(),
    ['checkpoint.json', 'history.csv', 'model', 'model/model.json', /^model\/weights-.*\.bin$/, /^state-.*\.bin$/]
      .map(
        (want) =>
          fs
            .readdirSync(run, { recursive: true })
            .map(String)
            .find((f) => (typeof want === 'string' ? f === want : want.test(f))) ?? `(none matches ${want})`,
      )
      .sort(),
    'the probe left a file',
  );
  // An existing output file is replaced, not refused (the probe goes into its folder).
  for (let k = 0; k < 2; k++) {
    const e = cli('embed', ['--run', run, '--out', path.join(root, 'e.csv')]);
    assert.equal(e.status, 0, e.stderr);
  }
  // A read-only file system (a tmpfs mounted read-only), where the kernel says EROFS.
  const mnt = path.join(root, 'ro');
  fs.mkdirSync(mnt);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) {
    t.diagnostic(`read-only case not run: cannot mount a tmpfs here (${(m.stderr || '').trim()})`);
  } else {
    try {
      refused(
        'train',
        [...small, '--run', path.join(mnt, 'run')],
        /cannot write there: .*ro is on a read-only file system/,
      );
      refused(
        'embed',
        ['--run', run, '--out', path.join(mnt, 'e.csv')],
        /cannot write there: .*ro is on a read-only file system/,
      );
    } finally {
      spawnSync('umount', [mnt]);
    }
  }
  fs.rmSync(root, { recursive: true });
});

test('--help returns from the parser with the text (HelpRequested), it does not exit the process', () => {
  const { parseFlags, HelpRequested } =
    require('margin-lab/dist/cli/common') as typeof import('margin-lab/dist/cli/common');
  const flags = {
    run: { type: 'string' as const, help: 'run folder' },
    json: { type: 'boolean' as const, help: 'JSON' },
  };
  let caught: unknown;
  try {
    parseFlags(['--run', 'x', '--help'], flags, 'usage: test');
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof HelpRequested, `expected HelpRequested, got ${String(caught)}`);
  assert.match(
    (caught as InstanceType<typeof HelpRequested>).text,
    /^usage: test\n\nFlags:\n {2}--run <value> +run folder\n {2}--json +JSON\n {2}--help$/,
  );
  assert.deepEqual({ ...parseFlags(['--json'], flags, 'usage: test') }, { json: true });
  // Through runMain: the text on stdout, status 0, nothing on stderr.
  for (const tool of ['train', 'eval', 'embed', 'export']) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', `${tool}.js`), '--help'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: npm run /, tool);
    assert.equal(r.stderr, '', tool);
  }
});

test('benchmark --help and docs/cli.md name MARGIN_LAB_QUICK=1 wherever they speak of quick mode', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'benchmark.js'), '--help'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /quick/i.test(l));
  assert.ok(lines.length >= 5, `quick mode appears in ${lines.length} lines`);
  for (const l of lines) assert.match(l, /MARGIN_LAB_QUICK=1/, l);
  const docs = fs
    .readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8')
    .split('\n')
    .filter((l) => /quick mode/i.test(l));
  assert.ok(docs.length >= 1, 'docs/cli.md says how to run quick mode');
  for (const l of docs) assert.match(l, /MARGIN_LAB_QUICK=1/, l);
});

test('npx margin-lab <command>: lists its commands, refuses an unknown one, passes flags and exit status through, and every message names the command that works where it is printed', () => {
  const bin = path.join(ROOT, 'dist', 'cli', 'margin-lab.js');
  const run = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  const help = run(['--help']);
  assert.equal(help.status, 0, help.stderr);
  for (const c of ['train', 'eval', 'embed', 'export', 'demo', 'benchmark', 'bench', 'doctor'])
    assert.match(help.stdout, new RegExp(`^  ${c} +\\S`, 'm'), c);
  const unknown = run(['trian']);
  assert.equal(unknown.status, 2);
  assert.match(
    unknown.stderr,
    /unknown command "trian"; expected one of train, eval, embed, export, demo, benchmark, bench, doctor/,
  );
  const bad = run(['train', '--bogus']);
  assert.equal(bad.status, 2, 'the tool exit status comes through');
  assert.match(bad.stderr, /--bogus/);
  // In this repository the npm scripts; in a user's project the bin.
  assert.match(run(['train', '--help']).stdout, /^usage: npm run train -- \[flags\]/);
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-user-project-'));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0' }));
  assert.match(run(['train', '--help'], project).stdout, /^usage: npx margin-lab train \[flags\]/);
  assert.match(run(['demo', '--help'], project).stdout, /npx margin-lab demo --run DIR/);
  const noRun = run(['eval'], project);
  assert.match(noRun.stderr, /give --run DIR \(a folder written by npx margin-lab train\) or --checkpoint FILE/);
  const lib = require(path.join(ROOT, 'dist', 'util', 'commands.js')) as {
    commandLine(c: string, a?: string, cwd?: string): string;
    inRepository(cwd?: string): boolean;
  };
  assert.equal(lib.inRepository(ROOT), true);
  assert.equal(lib.inRepository(project), false);
  assert.equal(lib.commandLine('doctor', '', project), 'npx margin-lab doctor');
  assert.equal(lib.commandLine('train', '--resume --run x', ROOT), 'npm run train -- --resume --run x');
  fs.rmSync(project, { recursive: true });
});
