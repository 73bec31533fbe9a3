/** Shared flag handling for the margin-lab command-line tools. */
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

export interface FlagSpec {
  type: 'string' | 'boolean';
  help: string;
  default?: string | boolean;
}

export class UsageError extends Error {}

/**
 * Quotes `arg` for a POSIX shell, so that a printed command is safe to paste: a path such as
 * `a b; touch X` stays one argument instead of running `touch`. Plain arguments stay as they are.
 */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Parses argv strictly: unknown flags and missing values are errors naming the flag. */
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
  if (values.help) {
    console.log(helpText(usage, flags));
    process.exit(0);
  }
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
  return items;
}

export function num(
  values: Record<string, unknown>,
  key: string,
  opts: { int?: boolean; min?: number } = {},
): number | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new UsageError(
      `--${key} ${JSON.stringify(raw)}: expected ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}`,
    );
  }
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
  model: import('@tensorflow/tfjs').LayersModel;
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
  if (typeof values.checkpoint === 'string') return path.resolve(values.checkpoint);
  if (typeof values.run === 'string') return path.resolve(values.run, 'checkpoint.json');
  throw new UsageError('give --run DIR (a folder written by npm run train) or --checkpoint FILE');
}

/** Runs a CLI main, turning errors into a one-line message and exit code 1 (2 for usage). */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
