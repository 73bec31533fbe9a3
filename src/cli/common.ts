/** Shared flag handling for the margin-lab command-line tools. */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import {
  datasetClassCount as namedClassCount,
  DatasetArgumentError,
  namedOpenSetSplit,
  NamedSplitOptions,
  OpenSetSplit,
  parseClassList,
  seededClassSplit,
} from '../data';
import { CheckpointData, loadForInference } from '../train';
import { inRange, NumericRange, rangeText } from '../util/range';
import { commandLine } from '../util/commands';

export interface FlagSpec {
  type: 'string' | 'boolean';
  help: string;
  default?: string | boolean;
}

export class UsageError extends Error {}

/**
 * `--help` was given: `parseFlags` throws this (after nothing else was parsed or done) with the
 * help text, and `runMain` prints it and ends with status 0. The process is never exited from
 * inside the parser, so the parser can be called (and tested) in-process.
 */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

/**
 * Quotes `arg` for a POSIX shell, so that a printed command is safe to paste: a path such as
 * `a b; touch X` stays one argument instead of running `touch`. Plain arguments stay as they are.
 */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Parses argv strictly: unknown flags and missing values are errors naming the flag. */
/**
 * `--require FILE`: loads the file before the flags are built, so that the losses it registers
 * (`registerLoss`) get their `--loss` value and option flags and their checkpoints load. Read
 * from argv directly because the flag table depends on it; parseFlags then sees the flag again
 * (each command declares it with REQUIRE_FLAG). A file that cannot be loaded is a usage error
 * naming it.
 */
export function preloadRequired(argv: string[] = process.argv.slice(2)): string | undefined {
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--require') file = argv[i + 1];
    else if (argv[i].startsWith('--require=')) file = argv[i].slice('--require='.length);
    else continue;
    if (file === undefined || file === '' || file.startsWith('--')) {
      console.error('error: --require needs a file, the module that registers your losses');
      process.exit(2);
    }
  }
  if (file === undefined) return undefined;
  const abs = path.resolve(file);
  try {
    require(abs);
  } catch (e) {
    console.error(`error: --require ${file}: could not load ${abs}: ${(e as Error).message}`);
    process.exit(2);
  }
  return abs;
}

/** The flag preloadRequired reads, for each command's table. */
export const REQUIRE_FLAG: FlagSpec = {
  type: 'string',
  help: 'a module to load first: one that registers losses of your own (registerLoss), so their runs train and load',
};

export function parseFlags(
  argv: string[],
  flags: Record<string, FlagSpec>,
  usage: string,
  given?: Set<string>,
): Record<string, string | boolean | undefined> {
  const options = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { type: v.type }])) as Record<
    string,
    { type: 'string' | 'boolean' }
  >;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun with --help to list the flags.`);
  }
  if (values.help) throw new HelpRequested(helpText(usage, flags));
  if (given) for (const [k, v] of Object.entries(values)) if (v !== undefined) given.add(k);
  for (const [k, v] of Object.entries(flags))
    if (values[k] === undefined && v.default !== undefined) values[k] = v.default;
  return values;
}

export function helpText(usage: string, flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(
    ([k, v]) =>
      `  --${k}${v.type === 'string' ? ' <value>' : ''}`.padEnd(30) +
      v.help +
      (v.default !== undefined && v.default !== false ? ` (default: ${v.default})` : ''),
  );
  return `${usage}\n\nFlags:\n${rows.join('\n')}\n  --help`.padEnd(0);
}

/** A comma-separated flag value as its non-empty items; an empty list is an error naming the flag. */
export function commaList(flag: string, raw: string): string[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${flag} is empty`);
  // "1,1" or "2, 2.0" would count one item twice; numbers are compared as numbers.
  const key = (s: string) => (s !== '' && Number.isFinite(Number(s)) ? String(Number(s)) : s);
  const dup = items.find((s, i) => items.findIndex((t) => key(t) === key(s)) !== i);
  if (dup !== undefined) throw new UsageError(`--${flag} ${raw}: ${JSON.stringify(dup)} is repeated`);
  return items;
}

export function num(
  values: Record<string, unknown>,
  key: string,
  opts: NumericRange & { why?: string } = {},
): number | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const expected = rangeText(opts);
  const why = opts.why ? ` (${opts.why})` : '';
  // Number('') and Number(' ') are 0: an empty value is no number.
  if (typeof raw === 'string' && raw.trim() === '')
    throw new UsageError(`--${key} "": expected ${expected}, got nothing`);
  const v = Number(raw);
  if (opts.int && Number.isInteger(v) && !Number.isSafeInteger(v))
    throw new UsageError(
      `--${key} ${JSON.stringify(raw)}: expected ${expected} up to ${Number.MAX_SAFE_INTEGER} (2⁵³ − 1, the largest integer a number holds exactly)`,
    );
  if (!inRange(opts, v)) throw new UsageError(`--${key} ${JSON.stringify(raw)}: expected ${expected}${why}`);
  return v;
}

/** Turns a data set argument error into the flag it came from (exit code 2). */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DatasetArgumentError) throw new UsageError(`--${e.option} ${e.detail}`);
    throw e;
  }
}

/** Class count of --dataset. */
export function datasetClassCount(name: string): number {
  return asUsage(() => namedClassCount(name));
}

/** The open-set split of --dataset, --seen and --unseen. */
export function makeSplit(meta: NamedSplitOptions): OpenSetSplit {
  return asUsage(() => namedOpenSetSplit(meta));
}

/** A trained run's model and checkpoint, and its open-set split rebuilt from the checkpoint's config. */
export function loadRun(
  file: string,
  sizes: { testPerClass?: number; trainPerClass?: number } = {},
): {
  model: import('../tf').LayersModel;
  data: CheckpointData;
  meta: NamedSplitOptions;
  split: OpenSetSplit;
} {
  const { model, data } = loadForInference(file);
  const meta = data.config as unknown as NamedSplitOptions;
  const split = makeSplit({
    ...meta,
    testPerClass: sizes.testPerClass,
    trainPerClass: sizes.trainPerClass ?? meta.trainPerClass,
  });
  return { model, data, meta, split };
}

/**
 * Parses --seen / --unseen: a class list ("0-4", "0,2,4") or, with the dataset's class count and
 * a seed, a seeded identity-disjoint fraction of the classes ("80%").
 */
export function classes(spec: string, flag: string, fraction?: { numClasses: number; seed: number }): number[] {
  const pct = /^\s*(\d+(?:\.\d+)?)%\s*$/.exec(spec);
  if (pct) {
    if (!fraction || flag !== 'seen')
      throw new UsageError(`--${flag} ${spec}: a percentage is only accepted for --seen (the rest is unseen)`);
    try {
      return seededClassSplit(fraction.numClasses, { seenFraction: Number(pct[1]) / 100, seed: fraction.seed }).seen;
    } catch (e) {
      throw new UsageError(`--seen ${spec}: ${(e as Error).message}`);
    }
  }
  try {
    return parseClassList(spec);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

export function runCheckpoint(values: Record<string, unknown>): string {
  if (typeof values.checkpoint === 'string' && typeof values.run === 'string')
    throw new UsageError('give --run DIR or --checkpoint FILE, not both');
  if (typeof values.checkpoint === 'string') {
    const file = path.resolve(values.checkpoint);
    if (fs.existsSync(file) && fs.statSync(file).isDirectory())
      throw new UsageError(
        `--checkpoint ${values.checkpoint}: is a folder, expected a checkpoint.json file${fs.existsSync(path.join(file, 'checkpoint.json')) ? ` (for a run folder, use --run ${shellQuote(String(values.checkpoint))})` : ''}`,
      );
    if (!fs.existsSync(file)) throw new UsageError(`--checkpoint ${values.checkpoint}: no such file`);
    return file;
  }
  if (typeof values.run === 'string') {
    const dir = path.resolve(values.run);
    if (!fs.existsSync(dir)) throw new UsageError(`--run ${values.run}: no such folder`);
    if (!fs.statSync(dir).isDirectory())
      throw new UsageError(
        `--run ${values.run}: is a file, expected a run folder (for a checkpoint file, use --checkpoint)`,
      );
    if (!fs.existsSync(path.join(dir, 'checkpoint.json')))
      throw new UsageError(
        `--run ${values.run}: holds no checkpoint.json (not a run folder written by ${commandLine('train')}?)`,
      );
    return path.join(dir, 'checkpoint.json');
  }
  throw new UsageError(`give --run DIR (a folder written by ${commandLine('train')}) or --checkpoint FILE`);
}

/** Why `dir` cannot be written: the nearest existing ancestor, a file in the way, or no permission. */
function unwritableReason(target: string): string | null {
  let p = target;
  while (!fs.existsSync(p)) {
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  if (p !== target && !fs.statSync(p).isDirectory()) return `${p} is a file, so no folder can be made inside it`;
  // Try it: make the missing folders and a probe file, then remove exactly what was made.
  // (access(2) is not enough: root passes it on folders where mkdir still fails.)
  const made: string[] = [];
  for (let q = target; q !== p; q = path.dirname(q)) made.unshift(q);
  const probe = path.join(target, `.margin-lab-write-test-${process.pid}`);
  try {
    for (const d of made) fs.mkdirSync(d);
    fs.writeFileSync(probe, '');
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EROFS'
      ? `${p} is on a read-only file system`
      : code === 'EACCES' || code === 'EPERM'
        ? `no permission to write in ${p}`
        : `${p} does not accept new files (${code})`;
  } finally {
    fs.rmSync(probe, { force: true });
    for (const d of made.reverse()) if (fs.existsSync(d)) fs.rmdirSync(d);
  }
}

/**
 * Checks, before any training or rendering, that `dir` can be the output folder of `--flag`: not
 * a file, and creatable and writable. Explains a problem in one line instead of a raw EEXIST,
 * ENOTDIR or EROFS at the end of a run.
 */
export function checkOutputDir(flag: string, dir: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new UsageError(`--${flag} ${dir}: is a file, expected a folder`);
  const why = unwritableReason(dir);
  if (why) throw new UsageError(`--${flag} ${dir}: cannot write there: ${why}`);
}

/** The same for an output file: not a folder, and its folder creatable and writable. */
export function checkOutputFile(flag: string, file: string): void {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory())
    throw new UsageError(`--${flag} ${file}: is a folder, expected a file name`);
  const dir = path.dirname(file);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())
    throw new UsageError(`--${flag} ${file}: ${dir} is a file, so nothing can be written inside it`);
  // The probe goes into the folder: a replaced file is written beside it and renamed over it.
  const why = unwritableReason(dir);
  if (why) throw new UsageError(`--${flag} ${file}: cannot write there: ${why}`);
}

/** Runs a CLI main, turning errors into a one-line message and exit code 1 (2 for usage). */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: Error) => {
    if (e instanceof HelpRequested) {
      console.log(e.text);
      process.exitCode = 0;
      return;
    }
    console.error(`error: ${e.message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
