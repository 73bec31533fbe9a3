/**
 * The loss catalogue: the list of every loss's spec (each declared in the loss's own file), and
 * what is looked up in it: a loss by id or by object, `createLoss`, the losses that take an option,
 * and the options table of docs/losses.md. The command line's flags, their parsing and `--help`
 * are built on it in src/cli/loss-flags.ts.
 *
 * Adding a loss: its file, one entry here, and its test.
 */
import { EmbeddingLoss } from './head';
import { factoryKeys, LossOption, LossSpec, rangeText } from './spec';
import { SOFTMAX_SPEC } from './softmax';
import { NORMFACE_SPEC } from './normface';
import { SPHEREFACE_SPEC } from './sphereface';
import { COSFACE_SPEC } from './cosface';
import { ARCFACE_SPEC } from './arcface';
import { COMBINED_SPEC } from './combined';
import { CURRICULARFACE_SPEC } from './curricularface';
import { SUBCENTER_ARCFACE_SPEC } from './subcenter-arcface';
import { ADAFACE_SPEC } from './adaface';
import { CONTRASTIVE_SPEC } from './contrastive';
import { TRIPLET_SPEC } from './triplet';
import { SOFTMAX_CENTER_SPEC } from './center';

export type { LossKind, LossOption, LossSpec } from './spec';

/** A loss's entry in the table: its spec (see src/losses/spec.ts). */
export type LossEntry = LossSpec;

/**
 * Every loss, as the list of their specs (each declared in the loss's own file). Adding a loss:
 * its file (class, factory, `defineLoss` spec), one line here, and its test.
 */
const entries = [
  SOFTMAX_SPEC,
  NORMFACE_SPEC,
  SPHEREFACE_SPEC,
  COSFACE_SPEC,
  ARCFACE_SPEC,
  COMBINED_SPEC,
  CURRICULARFACE_SPEC,
  SUBCENTER_ARCFACE_SPEC,
  ADAFACE_SPEC,
  CONTRASTIVE_SPEC,
  TRIPLET_SPEC,
  SOFTMAX_CENTER_SPEC,
] as const;

export const LOSS_TABLE: readonly LossSpec[] = entries;

export const LOSS_NAMES: readonly LossName[] = entries.map((e) => e.id);
export type LossName = (typeof entries)[number]['id'];

/** Losses that need P×K batches (positives inside every batch) rather than shuffled ones. */
export const PAIR_LOSSES: readonly LossName[] = LOSS_TABLE.filter((e) => e.kind === 'pair').map(
  (e) => e.id as LossName,
);

/**
 * The functions below take the table of specs they work on: the shipped one by default, or an
 * extended list (`[...LOSS_TABLE, MY_SPEC]`) for a loss of your own, which then gets the same
 * option parsing, range checks, help and docs table as the shipped ones.
 */

/** The table entry of a loss id; unknown ids throw, listing the valid ones. */
export function lossEntry(id: string, table: readonly LossSpec[] = LOSS_TABLE): LossEntry {
  const e = table.find((x) => x.id === id);
  if (!e) throw new Error(`unknown loss ${JSON.stringify(id)}; expected one of ${table.map((x) => x.id).join(', ')}`);
  return e;
}

/** The table entry of a loss object (by its exact class), or undefined for a loss not in the table. */
export function entryOf(loss: EmbeddingLoss): LossEntry | undefined {
  return LOSS_TABLE.find((e) => loss.constructor === e.cls);
}

/** The statistics a loss reports (`loss.stats()`; empty for losses without any). */
export function lossStats(loss: EmbeddingLoss): Record<string, number> {
  return loss.stats?.() ?? {};
}

/** The losses that take an option, for error messages. */
export function lossesWithOption(key: string, table: readonly LossSpec[] = LOSS_TABLE): string[] {
  return table.filter((e) => key in e.options).map((e) => e.id);
}

export interface LossParams {
  numClasses: number;
  embeddingDim: number;
  seed?: number;
  /** Any hyperparameter of the chosen loss, named as in its options (s, m, m1, K, margin, miner, ...). */
  [key: string]: unknown;
}

/** The keys a loss's factory takes (the head's, its options', its extra ones), and `loss` of a stored config(). */
function takes(e: LossEntry): Set<string> {
  return new Set(['loss', ...factoryKeys(e)]);
}

/**
 * Builds a loss by id. Unknown ids and unknown option keys throw, naming the losses that do take
 * the key ("m is not an option of softmax; losses with m: cosface, arcface, ..."). A stored
 * `config()` (with its `loss` key and state such as SphereFace's schedule) is accepted too.
 */
export function createLoss(name: string, params: LossParams, table: readonly LossSpec[] = LOSS_TABLE): EmbeddingLoss {
  const e = lossEntry(name, table);
  const allowed = takes(e);
  // Callers pass the classifier's shape for every loss; a pair loss has no classifier.
  const shape = ['numClasses', 'embeddingDim', 'seed'];
  for (const key of Object.keys(params)) {
    if (allowed.has(key) || params[key] === undefined || (e.kind === 'pair' && shape.includes(key))) continue;
    // The flag that sets a nested or renamed key (easyMargin → easy-margin), for the message.
    const cli = table.flatMap((x) => Object.entries(x.options)).find(([, o]) => o.path?.[0] === key)?.[0] ?? key;
    const takers = table.filter((x) => takes(x).has(key)).map((x) => x.id);
    throw new Error(
      `${key} is not an option of ${name}; ${takers.length ? `losses with ${cli}: ${takers.join(', ')}` : `${name} takes: ${[...allowed].filter((k) => k !== 'loss').join(', ') || 'no options'}`}`,
    );
  }
  if (params.loss !== undefined && params.loss !== name)
    throw new Error(`createLoss(${JSON.stringify(name)}): the options say loss ${JSON.stringify(params.loss)}`);
  const { loss: _drop, ...rest } = params;
  void _drop;
  if (e.kind === 'pair') for (const k of shape) delete rest[k];
  // The one place a spec's factory is called with options of unknown shape: their keys were
  // checked above, and the loss checks them against its spec (types, ranges, combinations).
  return (e.factory as unknown as (o: Record<string, unknown>) => EmbeddingLoss)(rest);
}

/** The range column of the docs table: the spec's range, the enum's values, or the type. */
function rangeColumn(o: LossOption): string {
  if (o.type === 'enum') return (o.values ?? []).join(', ');
  if (o.type === 'boolean') return 'true / false';
  const r = rangeText(o);
  return o.type === 'integer' ? (r ? `${r}, integer` : 'integer') : r || 'number';
}

/**
 * The options table of docs/losses.md, from the specs: one row per (loss, option) with the
 * command-line flag, the factory key, the range and the default (a test keeps the docs equal to it).
 */
export function lossOptionsMarkdown(table: readonly LossSpec[] = LOSS_TABLE): string {
  const rows = table.flatMap((e) =>
    Object.entries(e.options).map(([flag, o]) => {
      const key = (o.path ?? [flag]).join('.');
      const d = o.default !== undefined ? `\`${String(o.default)}\`` : (o.defaultText ?? '');
      return `| ${e.id} | \`--${flag}\` | \`${key}\` | ${rangeColumn(o)} | ${d} | ${o.help} |`;
    }),
  );
  return ['| loss | flag | option | range | default | what |', '|---|---|---|---|---|---|', ...rows].join('\n');
}
