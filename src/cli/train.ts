#!/usr/bin/env node
/** `npm run train -- --loss arcface --dataset fashion-mnist --seen 0-4 --dim 64` */
import * as fs from 'fs';
import * as path from 'path';
import { useBestBackend } from '../backend';
import { createLoss, EmbeddingLoss, lossEntry, registeredLosses } from '../losses';
import { lossFlagHelp, lossOptionsFromFlags } from '../losses/flags';
import { BackboneSpec, buildBackbone, BackboneName, NeckLayout } from '../models';
import {
  CheckpointData,
  OptimizerName,
  optionOfFlag,
  readCheckpoint,
  ScopedOption,
  train,
  TRAINING_OPTIONS,
  TrainingInterruptedError,
} from '../train';
import { DATASET_NAMES } from '../data';
import { lockFolder, writeFileAtomic } from '../util/fs';
import { flagHelp } from '../util/option-decl';
import type { NumericRange } from '../util/range';
import {
  classes,
  datasetClassCount,
  FlagSpec,
  makeSplit,
  num,
  parseFlags,
  runMain,
  shellQuote,
  UsageError,
  checkOutputDir,
  preloadRequired,
  REQUIRE_FLAG,
} from './common';
import { commandLine } from '../util/commands';

// Losses of your own (registerLoss) before the flag table is built from the registry.
preloadRequired();

/**
 * A training flag: how it parses and what it means (`FlagSpec`), and `stored`, where a checkpoint
 * keeps its value, for --resume (which checks the flags given against the run and takes the
 * others from it). `null`: the flag is not part of the run (where to write, how long to go on).
 * Every flag must say, so a new flag cannot be forgotten by --resume.
 */
interface TrainFlag extends FlagSpec {
  /** A number flag: parsed with these bounds wherever main reads it (`n(flag)`). */
  number?: NumericRange & { why?: string };
  stored: ((ck: CheckpointData) => unknown) | null;
}

/** What `stored` returns for a loss option the run's loss does not take (the loss's own check refuses the flag). */
const NOT_TAKEN = Symbol('not taken by this loss');

const cfg = (ck: CheckpointData) => ck.config as Record<string, unknown>;
const sgdOnly = (ck: CheckpointData, v: unknown) => (cfg(ck).optimizer === 'sgd' ? v : undefined);
const schedule = (ck: CheckpointData) => (cfg(ck).schedule ?? {}) as { type?: string; warmupSteps?: number };

/** Where the checkpoint keeps a declared option: its scope's object, the option's key, its default when absent. */
function storedOption(ck: CheckpointData, o: ScopedOption): unknown {
  const where = (o.scope === 'backbone' ? ck.backbone : o.scope === 'schedule' ? schedule(ck) : cfg(ck)) as Record<
    string,
    unknown
  >;
  return where[o.key] ?? o.decl.default;
}

/**
 * The flag of a declared option (src/train/options.ts, src/models/options.ts): its type, range,
 * help and default come from the declaration, and `stored` reads the checkpoint where the
 * declaration's scope says unless `stored` is given.
 */
function declaredFlag(flag: string, stored?: TrainFlag['stored']): TrainFlag {
  const o = optionOfFlag(flag);
  if (!o) throw new Error(`train: --${flag} has no declaration (internal error)`);
  const d = o.decl;
  return {
    type: d.type === 'boolean' ? 'boolean' : 'string',
    help: flagHelp(d),
    ...(d.cliDefault !== undefined ? { default: d.cliDefault } : {}),
    ...(d.type === 'number' ? { number: { ...d.range, ...(d.why ? { why: d.why } : {}) } } : {}),
    stored: stored === undefined ? (ck) => storedOption(ck, o) : stored,
  };
}

export const FLAGS: Record<string, TrainFlag> = {
  require: { ...REQUIRE_FLAG, stored: null },
  loss: {
    type: 'string',
    help: `loss: ${registeredLosses()
      .map((e) => e.id)
      .join(', ')}`,
    default: 'arcface',
    stored: (ck) => cfg(ck).lossName ?? ck.loss.loss,
  },
  dataset: {
    type: 'string',
    help: DATASET_NAMES.join(', '),
    default: 'fashion-mnist',
    stored: (ck) => cfg(ck).dataset,
  },
  seen: {
    type: 'string',
    help: 'classes to train on, e.g. 0-4, 0,2,4, or 80% (a seeded random 80% of the classes)',
    default: '0-4',
    stored: (ck) => cfg(ck).seen,
  },
  unseen: {
    type: 'string',
    help: 'classes held out for evaluation (default: all others)',
    stored: (ck) => cfg(ck).unseen,
  },
  backbone: declaredFlag('backbone'),
  width: declaredFlag('width'),
  bn: declaredFlag('bn'),
  neck: declaredFlag('neck'),
  'neck-layout': declaredFlag('neck-layout'),
  dropout: declaredFlag('dropout'),
  dim: declaredFlag('dim'),
  // The total number of epochs to reach: a resumed run is given more than it has.
  epochs: declaredFlag('epochs', null),
  batch: declaredFlag('batch'),
  optimizer: declaredFlag('optimizer'),
  lr: declaredFlag('lr'),
  // Old checkpoints stored a momentum for Adam runs too, where it did nothing.
  momentum: declaredFlag('momentum', (ck) => sgdOnly(ck, storedOption(ck, optionOfFlag('momentum')!))),
  nesterov: declaredFlag('nesterov', (ck) => sgdOnly(ck, storedOption(ck, optionOfFlag('nesterov')!))),
  'weight-decay': declaredFlag('weight-decay'),
  schedule: declaredFlag('schedule'),
  warmup: declaredFlag('warmup'),
  // Loss hyperparameters: generated from the loss table (src/losses/registry.ts), below.
  'train-per-class': declaredFlag('train-per-class'),
  'max-steps': declaredFlag('max-steps'),
  seed: declaredFlag('seed'),
  // The class weights of a resumed run come from the checkpoint (main refuses --init with --resume).
  init: {
    type: 'string',
    help: 'how class weights start (losses with class weights): spread or normal (default: spread at --dim ≤ 3, normal above)',
    stored: null,
  },
  run: {
    type: 'string',
    help: 'run folder for checkpoint.json and history.csv (default runs/<loss>-<time>)',
    stored: null,
  },
  resume: {
    type: 'boolean',
    help: 'continue the run in --run from its checkpoint (flags not given are taken from it)',
    stored: null,
  },
  overwrite: {
    type: 'boolean',
    help: 'train into an existing run folder, replacing its checkpoint and history',
    stored: null,
  },
};

/** Every loss option as a flag; each says which losses take it. */
const LOSS_FLAGS = lossFlagHelp();
/**
 * The flag of each loss option: its own name, or `--loss-<name>` where a training flag has that
 * name already (a registered loss's `seed` or `warmup`, say), so the two never share a flag.
 */
const LOSS_FLAG_NAME = new Map<string, string>();
for (const f of LOSS_FLAGS) {
  const cli = FLAGS[f.flag] ? `loss-${f.flag}` : f.flag;
  if (FLAGS[cli]) throw new Error(`loss option ${f.flag}: both --${f.flag} and --${cli} are taken (internal error)`);
  LOSS_FLAG_NAME.set(f.flag, cli);
  // A loss option sits in the checkpoint's loss config where its spec's path says.
  const stored = (ck: CheckpointData) => {
    const o = lossEntry(String(cfg(ck).lossName ?? ck.loss.loss)).options[f.flag];
    if (!o) return NOT_TAKEN;
    let x: unknown = ck.loss;
    for (const k of o.path ?? [f.flag])
      x = x === undefined || x === null ? undefined : (x as Record<string, unknown>)[k];
    return x;
  };
  FLAGS[cli] = {
    type: f.type === 'boolean' ? 'boolean' : 'string',
    help: `${f.help} [${f.losses.join(', ')}]`,
    stored,
  };
}

/** Each resumable flag's value in a checkpoint (its `stored`), as the CLI would spell it. */
function checkpointFlags(ck: CheckpointData): Record<string, string | undefined> {
  const str = (x: unknown) => (x === undefined || x === null ? undefined : Array.isArray(x) ? x.join(',') : String(x));
  const out: Record<string, string | undefined> = {};
  for (const [flag, f] of Object.entries(FLAGS)) {
    const x = f.stored?.(ck);
    if (f.stored && x !== NOT_TAKEN) out[flag] = str(x);
  }
  return out;
}

/** Same value as the CLI would read it: class lists expanded, numbers compared as numbers. */
function sameFlagValue(flag: string, a: string, b: string): boolean {
  if (flag === 'seen' || flag === 'unseen') {
    try {
      return classes(a, flag).join(',') === classes(b, flag).join(',');
    } catch {
      return false; // e.g. "80%" against the stored list: reported as a difference
    }
  }
  if (a.trim() !== '' && b.trim() !== '' && Number.isFinite(Number(a)) && Number.isFinite(Number(b)))
    return Number(a) === Number(b);
  return a === b;
}

/**
 * With --resume, checks the flags given against the checkpoint (every conflict listed) and
 * fills the flags not given from it.
 */
function resumeFlags(
  v: Record<string, string | boolean | undefined>,
  given: Set<string>,
  ck: CheckpointData,
  file: string,
): void {
  const stored = checkpointFlags(ck);
  const conflicts: string[] = [];
  for (const [flag, value] of Object.entries(stored)) {
    const boolean = FLAGS[flag]?.type === 'boolean';
    if (given.has(flag)) {
      if (value === undefined || !sameFlagValue(flag, String(v[flag]), value))
        conflicts.push(`--${flag} ${v[flag]} (the checkpoint has ${value === undefined ? 'none' : value})`);
    } else if (value !== undefined) {
      v[flag] = boolean ? value === 'true' || undefined : value;
    }
  }
  if (conflicts.length) {
    throw new UsageError(
      `--resume: these flags differ from the run in ${file}:\n  ${conflicts.join('\n  ')}\nDrop them to continue the run as it was, or start a new run (another --run folder, or --overwrite).`,
    );
  }
}

function writeHistory(runDir: string, rows: Array<Record<string, number>>): void {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]);
  const csv = [keys.join(','), ...rows.map((r) => keys.map((k) => r[k]).join(','))].join('\n') + '\n';
  writeFileAtomic(path.join(runDir, 'history.csv'), csv);
}

/** The flags whose values are a list: the declared enums (backbone, optimizer, schedule, neck layout) and the data set. */
export function checkEnumFlags(v: Record<string, unknown>): void {
  const enums: Array<[string, readonly string[]]> = [['dataset', DATASET_NAMES]];
  for (const o of TRAINING_OPTIONS)
    if (o.decl.flag && o.decl.type === 'enum') enums.push([o.decl.flag, o.decl.values ?? []]);
  for (const [flag, allowed] of enums) {
    if (v[flag] !== undefined && !allowed.includes(String(v[flag])))
      throw new UsageError(`--${flag} ${JSON.stringify(v[flag])}: expected one of ${allowed.join(', ')}`);
  }
}

/** A number flag's value, parsed with the bounds its entry in FLAGS declares. */
export function numberFlag(v: Record<string, unknown>, flag: string): number | undefined {
  const rule = FLAGS[flag]?.number;
  if (!rule) throw new Error(`train: --${flag} is not declared as a number flag (internal error)`);
  return num(v, flag, rule);
}

/** The parsed flags, the set given on the command line, and a number flag's value. */
interface Flags {
  v: Record<string, string | boolean | undefined>;
  given: Set<string>;
  n: (flag: string) => number | undefined;
}

/** Parses the flags and checks every number flag given, before the backend starts or the data loads. */
function parseTrainFlags(argv: string[]): Flags {
  const given = new Set<string>();
  const v = parseFlags(
    argv,
    FLAGS,
    `usage: ${commandLine('train', '[flags]')}\nTrains a backbone with a loss on the seen classes of an open-set split and writes a checkpoint.`,
    given,
  );
  const n = (flag: string): number | undefined => numberFlag(v, flag);
  for (const [flag, f] of Object.entries(FLAGS)) if (f.number) n(flag);
  return { v, given, n };
}

/** The run folder, and the checkpoint to resume from: --run, --resume and --overwrite checked together. */
function resolveRunFolder({ v }: Flags): { runDir: string; resumeFile: string | undefined } {
  if (v.resume && v.overwrite)
    throw new UsageError(
      '--resume and --overwrite contradict each other: --resume continues the run, --overwrite replaces it',
    );
  if (v.resume && typeof v.run !== 'string')
    throw new UsageError('--resume needs --run DIR, the folder of the run to continue');
  if (typeof v.run === 'string' && v.run.trim() === '')
    throw new UsageError(
      `--run ${JSON.stringify(v.run)}: expected a folder name (an empty one would write into the current folder)`,
    );
  const runDir = path.resolve(
    typeof v.run === 'string'
      ? v.run
      : path.join('runs', `${String(v.loss)}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  );
  checkOutputDir('run', runDir);
  const resumeFile = v.resume ? path.join(runDir, 'checkpoint.json') : undefined;
  if (resumeFile && !fs.existsSync(resumeFile)) throw new UsageError(`--resume: no checkpoint in ${runDir}`);
  if (!v.resume && !v.overwrite && fs.existsSync(runDir)) {
    const existing = ['checkpoint.json', 'history.csv'].filter((f) => fs.existsSync(path.join(runDir, f)));
    if (existing.length) {
      throw new UsageError(
        `run folder ${runDir} already holds a run (${existing.join(', ')}); nothing was changed. Continue it with --resume, replace it with --overwrite, or choose another --run folder.`,
      );
    }
  }
  return { runDir, resumeFile };
}

/**
 * With --resume: reads the checkpoint, checks the flags given against it and takes the others
 * from it. Without --epochs a resumed run goes on to the total it was started with (its
 * schedule's end); --epochs sets another total (the schedule is then that of the new total).
 */
function resolveResume(
  { v, given }: Flags,
  runDir: string,
  resumeFile: string | undefined,
): CheckpointData | undefined {
  if (!resumeFile) return undefined;
  const resumed = readCheckpoint(resumeFile);
  resumeFlags(v, given, resumed, resumeFile);
  const storedEpochs = cfg(resumed).epochs;
  if (!given.has('epochs') && Number.isInteger(storedEpochs)) v.epochs = String(storedEpochs);
  if (Number(v.epochs) <= resumed.epoch)
    throw new UsageError(
      given.has('epochs')
        ? `--epochs ${v.epochs}: the run in ${runDir} is already at epoch ${resumed.epoch}, so nothing would train; --epochs is the total to reach, give more than ${resumed.epoch}`
        : `the run in ${runDir} has finished: it is at epoch ${resumed.epoch} of the ${v.epochs} it was started with; to train it further give the new total, --epochs ${resumed.epoch + 1} or more`,
    );
  if (given.has('epochs') && Number.isInteger(storedEpochs) && Number(v.epochs) !== storedEpochs)
    console.log(
      `resume: --epochs ${v.epochs} instead of the ${storedEpochs} the run was started with; the learning-rate schedule is that of ${v.epochs} epochs from here on`,
    );
  return resumed;
}

/** --loss and --init against the registry and the run; returns the loss id. */
function checkLossFlags({ v }: Flags, resumed: CheckpointData | undefined): string {
  const lossName = String(v.loss);
  const lossIds = registeredLosses().map((e) => e.id);
  if (!lossIds.includes(lossName))
    throw new UsageError(
      `--loss ${JSON.stringify(lossName)}: expected one of ${lossIds.join(', ')} (a loss of your own: --require the file that registers it)`,
    );
  if (v.init !== undefined) {
    if (resumed)
      throw new UsageError('--init does not apply with --resume: the class weights come from the checkpoint');
    if (v.init !== 'spread' && v.init !== 'normal')
      throw new UsageError(`--init ${JSON.stringify(v.init)}: expected spread or normal`);
    if (lossEntry(lossName).kind === 'pair')
      throw new UsageError(`--init does not apply to ${lossName}: it has no class weights`);
  }
  checkEnumFlags(v);
  return lossName;
}

/** The seen and unseen classes of --seen and --unseen. */
function splitClasses({ v, n }: Flags): { seen: number[]; unseen: number[] } {
  const seed = n('seed')!;
  const seen = classes(
    String(v.seen),
    'seen',
    /%\s*$/.test(String(v.seen)) ? { numClasses: datasetClassCount(String(v.dataset)), seed } : undefined,
  );
  if (seen.length < 2)
    throw new UsageError(
      `--seen ${v.seen}: names ${seen.length} class; training needs at least 2 seen classes (a classifier must tell them apart, a pair loss needs impostors)`,
    );
  const unseen = typeof v.unseen === 'string' ? classes(v.unseen, 'unseen') : [];
  return { seen, unseen };
}

/** The backbone's spec from the flags, with the combinations that do not apply refused. */
function backboneSpec({ v, given, n }: Flags, inputShape: [number, number, number]): BackboneSpec {
  const backboneName = String(v.backbone);
  const dropout = n('dropout');
  if (dropout !== undefined && dropout > 0 && !v.neck)
    throw new UsageError(`--dropout ${dropout} applies inside the BN neck; give --neck too`);
  if (v.bn && backboneName === 'mlp')
    throw new UsageError('--bn adds BatchNorm after convolutions and the mlp backbone has none; use --neck');
  // Only the conv backbones with a channel multiplier take --width; the others would ignore it.
  const widthApplies = backboneName === 'lenetpp' || backboneName === 'resnet';
  if (given.has('width') && !widthApplies)
    throw new UsageError(
      `--width applies to the lenetpp and resnet backbones only; ${backboneName} has no channel multiplier`,
    );
  const neckLayout = v['neck-layout'] === undefined ? undefined : String(v['neck-layout']);
  if (neckLayout !== undefined && (backboneName !== 'reference' || !v.neck))
    throw new UsageError(
      `--neck-layout applies to the reference backbone with --neck only${backboneName === 'reference' ? '; add --neck' : `, not ${backboneName}`}`,
    );
  return {
    name: backboneName as BackboneName,
    inputShape,
    embeddingDim: n('dim')!,
    ...(widthApplies ? { width: n('width') } : {}),
    seed: n('seed')!,
    ...(v.bn ? { batchNorm: true } : {}),
    ...(v.neck ? { neck: true } : {}),
    ...(neckLayout !== undefined ? { neckLayout: neckLayout as NeckLayout } : {}),
    ...(dropout !== undefined && dropout > 0 ? { dropout } : {}),
  };
}

/** The loss from --loss and its option flags (a resumed run's from its checkpoint). */
function buildLoss(
  { v, given, n }: Flags,
  lossName: string,
  numClasses: number,
  resumed: CheckpointData | undefined,
): EmbeddingLoss {
  const optimizer = String(v.optimizer);
  if (optimizer !== 'sgd') {
    for (const flag of ['momentum', 'nesterov'])
      if (given.has(flag)) throw new UsageError(`--${flag} applies to --optimizer sgd only, not ${optimizer}`);
  }
  const lossFlags: Record<string, string | boolean> = {};
  for (const f of LOSS_FLAGS) {
    const cli = LOSS_FLAG_NAME.get(f.flag)!;
    if (v[cli] !== undefined) lossFlags[f.flag] = v[cli] as string;
  }
  let lossOptions: Record<string, unknown>;
  try {
    lossOptions = lossOptionsFromFlags(lossName, lossFlags);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const params: Record<string, unknown> = { numClasses, embeddingDim: n('dim')!, seed: n('seed')!, ...lossOptions };
  if (v.init !== undefined) params.init = v.init;
  if (resumed) Object.assign(params, resumed.loss);
  return createLoss(lossName, params as never);
}

/**
 * Ctrl-C: finish the step (and a checkpoint write) in progress, then stop and say what was saved.
 * A second Ctrl-C quits at once; checkpoints are written atomically either way. SIGTERM (a
 * process manager, `kill`) is handled the same way, and exits 143. Returns the signal to pass
 * to train() and the exit status to use.
 */
function stopOnSignals(): { signal: AbortSignal; exitCode: () => number } {
  const stop = new AbortController();
  let exitCode = 130;
  process.once('SIGINT', () => {
    stop.abort();
    console.error(`${process.stderr.isTTY ? '\n' : ''}stopping after this step (Ctrl-C again to quit at once)`);
    process.once('SIGINT', () => process.exit(130));
  });
  process.once('SIGTERM', () => {
    exitCode = 143;
    stop.abort();
    console.error('terminated (SIGTERM): stopping after this step');
    process.once('SIGTERM', () => process.exit(143));
  });
  return { signal: stop.signal, exitCode: () => exitCode };
}

/** parse → resolve the run and its resume → build the data, backbone and loss → train. */
async function main(): Promise<void> {
  const flags = parseTrainFlags(process.argv.slice(2));
  const { v, n } = flags;
  const { runDir, resumeFile } = resolveRunFolder(flags);
  const resumed = resolveResume(flags, runDir, resumeFile);
  const lossName = checkLossFlags(flags, resumed);
  const { seen, unseen } = splitClasses(flags);
  const seed = n('seed')!;

  const report = await useBestBackend();
  const meta = { dataset: String(v.dataset), seen, unseen, seed, trainPerClass: n('train-per-class') };
  const split = makeSplit(meta);
  const spec = backboneSpec(flags, split.train.shape);
  const loss = buildLoss(flags, lossName, seen.length, resumed);
  const model = buildBackbone(spec);
  const list = (c: number[]) => (c.length <= 12 ? c.join(',') : `${c.slice(0, 8).join(',')},… (${c.length} classes)`);
  console.log(
    `training ${lossName} on ${meta.dataset} classes ${list(seen)} (${split.train.y.length} images), unseen ${list(split.unseenClasses)}; backbone ${spec.name}, dim ${spec.embeddingDim}; run ${runDir}`,
  );
  const rows: Array<Record<string, number>> = resumed ? [...(resumed.history as Array<Record<string, number>>)] : [];
  const stop = stopOnSignals();
  const runRel = shellQuote(path.relative(process.cwd(), runDir) || '.');
  // One writer per run folder, from here to the end (train() inside takes the same lock; this
  // one also covers history.csv after it). Taken here, after every flag is checked, so that a
  // refused command creates no folder.
  lockFolder(runDir, 'run folder', (l) => console.warn(`warning: ${l}`));
  const optimizer = String(v.optimizer) as OptimizerName;
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train({
      model,
      backbone: spec,
      loss,
      data: { x: split.train.x, y: split.train.localY, shape: split.train.shape },
      epochs: n('epochs')!,
      batchSize: n('batch'),
      optimizer,
      lr: n('lr'),
      momentum: optimizer === 'sgd' ? n('momentum') : undefined,
      nesterov: optimizer === 'sgd' ? v.nesterov === true : undefined,
      weightDecay: n('weight-decay'),
      schedule: { type: String(v.schedule) as 'constant', warmupSteps: n('warmup') },
      seed,
      maxStepsPerEpoch: n('max-steps'),
      runDir,
      resume: resumeFile,
      meta: {
        ...meta,
        lossName,
        unseen: split.unseenClasses,
        backend: report.line,
        pairLoss: lossEntry(lossName).kind === 'pair',
      },
      // history.csv after every epoch (the checkpoint is written just before), not only at the end.
      onEpochEnd: (row) => {
        rows.push(row);
        writeHistory(runDir, rows);
      },
      signal: stop.signal,
    });
  } catch (e) {
    if (!(e instanceof TrainingInterruptedError)) throw e;
    console.error(
      `interrupted at epoch ${e.epoch}, step ${e.step}: ${
        e.savedEpoch > 0
          ? `${e.checkpoint} holds epoch ${e.savedEpoch}; continue with: ${commandLine('train', `--resume --run ${runRel}`)}`
          : `no epoch had finished, nothing was saved`
      }`,
    );
    process.exit(stop.exitCode());
  }
  writeHistory(runDir, result.history);
  console.log(`wrote ${result.checkpoint} and ${path.join(runDir, 'history.csv')}`);
  console.log(`evaluate with: ${commandLine('eval', `--run ${runRel}`)}`);
}

if (require.main === module) runMain(main);
