/**
 * The loss catalogue: the list of every loss's spec (each declared in the loss's own file), and
 * what is looked up in it: a loss by id or by object, `createLoss`, the losses that take an option,
 * and the options table of docs/losses.md. The command line's flags, their parsing and `--help`
 * are built on it in src/losses/flags.ts.
 *
 * Adding a shipped loss: its file, one entry in the list below, and its float64 reference case.
 * Adding a loss of your own, outside the package: its file and one `registerLoss(SPEC)` call;
 * every lookup (createLoss, checkpoints, the command line with `--require FILE`) then knows it.
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

/** The shipped losses' specs, in the order of the docs and the command line. */
export const LOSS_TABLE: readonly LossSpec[] = entries;

/** The registry every lookup reads: the shipped specs, then those added with registerLoss. */
const registry: LossSpec[] = [...entries];

/** A loss id: lower-case letters, digits, '-' and '+', starting with a letter (a file and flag value). */
const LOSS_ID = /^[a-z][a-z0-9+-]*$/;

/**
 * Adds a loss of your own to the registry, as tfjs's `registerClass` does for layers: after it,
 * `createLoss(spec.id, …)`, checkpoints that name it (train, resume, `loadForInference`, eval,
 * embed, export) and the command line's `--loss` and option flags (with `--require FILE`, the
 * file that makes this call) know it like a shipped loss. `spec` is what `defineLoss` returns.
 * Registering the same spec again does nothing; another spec under a taken id is refused.
 */
export function registerLoss(spec: LossSpec): void {
  const bad = (why: string): never => {
    throw new Error(`registerLoss: ${why}`);
  };
  if (spec === null || typeof spec !== 'object') bad(`expected the spec defineLoss returns, got ${String(spec)}`);
  if (typeof spec.id !== 'string' || !LOSS_ID.test(spec.id))
    bad(
      `the id ${JSON.stringify(spec.id)} must be lower-case letters, digits, '-' or '+', starting with a letter (it names the loss in checkpoints and on the command line)`,
    );
  if (typeof spec.cls !== 'function' || typeof spec.factory !== 'function')
    bad(`${spec.id}: the spec needs its class (cls) and factory, as defineLoss declares them`);
  if (spec.kind !== 'head' && spec.kind !== 'pair')
    bad(`${spec.id}: kind must be 'head' or 'pair', got ${JSON.stringify(spec.kind)}`);
  if (spec.options === null || typeof spec.options !== 'object') bad(`${spec.id}: the spec has no options object`);
  const taken = registry.find((e) => e.id === spec.id);
  if (taken === spec) return;
  if (taken)
    bad(
      `the id ${JSON.stringify(spec.id)} is taken by ${LOSS_TABLE.includes(taken) ? 'a shipped loss' : 'a loss registered earlier'}; choose another id`,
    );
  if (registry.some((e) => e.cls === spec.cls))
    bad(
      `${spec.id}: its class is registered already, under ${JSON.stringify(registry.find((e) => e.cls === spec.cls)!.id)}`,
    );
  registry.push(spec);
}

/** Every loss the lookups know: the shipped ones, then the registered ones, in registration order. */
export function registeredLosses(): readonly LossSpec[] {
  return registry;
}

export const LOSS_NAMES: readonly LossName[] = entries.map((e) => e.id);
export type LossName = (typeof entries)[number]['id'];

/** Losses that need P×K batches (positives inside every batch) rather than shuffled ones. */
export const PAIR_LOSSES: readonly LossName[] = LOSS_TABLE.filter((e) => e.kind === 'pair').map(
  (e) => e.id as LossName,
);

/**
 * The functions below take the table of specs they work on: the registry by default (the shipped
 * losses and any registered with registerLoss), or an explicit list.
 */

/** The table entry of a loss id; unknown ids throw, listing the valid ones. */
export function lossEntry(id: string, table: readonly LossSpec[] = registry): LossEntry {
  const e = table.find((x) => x.id === id);
  if (!e)
    throw new Error(
      `unknown loss ${JSON.stringify(id)}; expected one of ${table.map((x) => x.id).join(', ')}${table === registry ? ' (a loss of your own: registerLoss(SPEC) first)' : ''}`,
    );
  return e;
}

/** The table entry of a loss object (by its exact class), or undefined for a loss not in the table. */
export function entryOf(loss: EmbeddingLoss): LossEntry | undefined {
  return registry.find((e) => loss.constructor === e.cls);
}

/** The statistics a loss reports (`loss.stats()`; empty for losses without any). */
export function lossStats(loss: EmbeddingLoss): Record<string, number> {
  return loss.stats?.() ?? {};
}

/** The losses that take an option, for error messages. */
export function lossesWithOption(key: string, table: readonly LossSpec[] = registry): string[] {
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
export function createLoss(name: string, params: LossParams, table: readonly LossSpec[] = registry): EmbeddingLoss {
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
