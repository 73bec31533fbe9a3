/**
 * The loss registry (registerLoss): a loss of your own, outside the package, trains from the
 * command line, writes a checkpoint that resumes, evaluates and loads for inference, with one
 * file and one registerLoss call (test/helpers/am-softmax.ts and register-am-softmax.ts). Without
 * the registration its checkpoint is refused with a message that says what to do.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';
import { AM_SOFTMAX_SPEC, AMSoftmax } from './helpers/am-softmax';

const REGISTER = path.join(__dirname, 'helpers', 'register-am-softmax.js');

function cli(tool: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', `${tool}.js`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

const small = ['--backbone', 'mlp', '--dim', '4', '--seen', '0-2', '--max-steps', '2', '--train-per-class', '30'];

test('a registered loss of your own trains from the command line (--require), resumes, evaluates and loads for inference', () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-registry-'));
  const help = cli('train', ['--require', REGISTER, '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--loss <value> +loss: softmax, .*, am-softmax/);
  assert.match(help.stdout, /--m <value> .*am-softmax/);
  const trained = cli('train', [
    '--require',
    REGISTER,
    '--loss',
    'am-softmax',
    '--m',
    '0.2',
    ...small,
    '--epochs',
    '1',
    '--run',
    run,
  ]);
  assert.equal(trained.status, 0, trained.stderr);
  const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'));
  assert.deepEqual([ck.loss.loss, ck.loss.m, ck.loss.s, ck.epoch], ['am-softmax', 0.2, 30, 1]);
  // Resume takes the loss and its options from the checkpoint.
  const resumed = cli('train', ['--require', REGISTER, '--resume', '--run', run, '--epochs', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')).epoch, 2);
  const evaluated = cli('eval', [
    '--require',
    REGISTER,
    '--run',
    run,
    '--per-class',
    '20',
    '--pairs-per-fold',
    '5',
    '--json',
  ]);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const metrics = JSON.parse(evaluated.stdout.slice(evaluated.stdout.indexOf('{')));
  assert.ok(Number.isFinite(metrics.auc) && metrics.auc > 0, `auc ${metrics.auc}`);
  // Without the registration: refused, saying what to do.
  const unregistered = cli('eval', ['--run', run, '--json']);
  assert.notEqual(unregistered.status, 0);
  assert.match(
    unregistered.stderr,
    /loss\.loss must be one of softmax, .* \(a loss of your own must be registered before its checkpoint loads: registerLoss\(SPEC\), or --require FILE on the command line\), got "am-softmax"/,
  );
  const missing = cli('train', ['--require', path.join(run, 'nope.js'), '--help']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--require .*nope\.js: could not load/);
  // In the library: one registerLoss call, then checkpoints load into the loss's own class.
  ml.registerLoss(AM_SOFTMAX_SPEC);
  ml.registerLoss(AM_SOFTMAX_SPEC); // the same spec again: nothing happens
  const loaded = ml.loadForInference(path.join(run, 'checkpoint.json'));
  assert.ok(loaded.loss instanceof AMSoftmax);
  assert.equal((loaded.loss as AMSoftmax).m, 0.2);
  assert.ok(ml.registeredLosses().some((e) => e.id === 'am-softmax'));
  assert.equal(ml.entryOf(loaded.loss), AM_SOFTMAX_SPEC);
  loaded.model.dispose();
  loaded.loss.dispose();
  fs.rmSync(run, { recursive: true });
});

test('registerLoss refuses a taken id, a malformed id and a spec that is not one, naming the problem', () => {
  assert.throws(
    () => ml.registerLoss({ ...AM_SOFTMAX_SPEC, id: 'arcface' } as ml.LossSpec),
    /registerLoss: the id "arcface" is taken by a shipped loss; choose another id/,
  );
  assert.throws(
    () => ml.registerLoss({ ...AM_SOFTMAX_SPEC, id: 'AM Softmax' } as ml.LossSpec),
    /registerLoss: the id "AM Softmax" must be lower-case letters, digits, '-' or '\+'/,
  );
  ml.registerLoss(AM_SOFTMAX_SPEC); // idempotent: this test does not depend on the one above
  assert.throws(
    () => ml.registerLoss({ ...AM_SOFTMAX_SPEC, id: 'am-softmax-2' } as ml.LossSpec),
    /registerLoss: am-softmax-2: its class is registered already, under "am-softmax"/,
  );
  assert.throws(
    () => ml.registerLoss({ ...AM_SOFTMAX_SPEC, cls: class extends AMSoftmax {} } as ml.LossSpec),
    /registerLoss: the id "am-softmax" is taken by a loss registered earlier; choose another id/,
  );
  assert.throws(
    () => ml.registerLoss(null as unknown as ml.LossSpec),
    /registerLoss: expected the spec defineLoss returns/,
  );
  assert.throws(
    () => ml.registerLoss({ ...AM_SOFTMAX_SPEC, id: 'x-loss', cls: undefined } as unknown as ml.LossSpec),
    /registerLoss: x-loss: the spec needs its class \(cls\) and factory/,
  );
  assert.throws(
    () => ml.createLoss('nope', { numClasses: 2, embeddingDim: 2 }),
    /unknown loss "nope"; .*registerLoss\(SPEC\) first/,
  );
});

test('a registered loss option named like a training flag gets --loss-<name>; the two flags set different things and resume keeps both', () => {
  const register = path.join(__dirname, 'helpers', 'register-clashing-loss.js');
  const help = cli('train', ['--require', register, '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--loss-warmup <value> +a number the loss keeps .*\[warm-margin\]/);
  assert.match(help.stdout, /--warmup <value> +warm-up steps/);
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-clash-'));
  const trained = cli('train', [
    '--require',
    register,
    '--loss',
    'warm-margin',
    '--loss-warmup',
    '7',
    '--warmup',
    '2',
    ...small,
    '--epochs',
    '1',
    '--run',
    run,
  ]);
  assert.equal(trained.status, 0, trained.stderr);
  const ck = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8'));
  assert.equal(ck.loss.warmup, 7);
  assert.equal(ck.config.schedule.warmupSteps, 2);
  const clash = cli('train', ['--require', register, '--resume', '--run', run, '--epochs', '2', '--loss-warmup', '8']);
  assert.equal(clash.status, 2);
  assert.match(clash.stderr, /--loss-warmup 8 \(the checkpoint has 7\)/);
  const resumed = cli('train', ['--require', register, '--resume', '--run', run, '--epochs', '2']);
  assert.equal(resumed.status, 0, resumed.stderr);
  fs.rmSync(run, { recursive: true });
});
