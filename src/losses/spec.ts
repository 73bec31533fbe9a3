/**
 * A loss's declaration: its id, kind, summary, class and factory, and each hyperparameter once,
 * with its type, range, default and help. The command line's flags, their parsing and range
 * checks, `--help`, the defaults the help and docs state, and the table in docs/losses.md are
 * derived from these specs (src/losses/registry.ts lists them); each loss declares its spec in its
 * own file with `defineLoss`. A test probes every bounded option through the command line and the
 * factory and checks that both accept the same values, and that each declared default is the one
 * the loss uses.
 */
import type { EmbeddingLoss } from './head';

/** How a loss consumes a batch: a classifier head (class weights), a pair loss (P×K batches), or a head with class centers. */
export type LossKind = 'head' | 'pair' | 'head+centers';

export interface LossOption {
  type: 'number' | 'integer' | 'boolean' | 'enum';
  /** What the option does (the default is added from `default`). */
  help: string;
  /** The value the loss uses when the option is not given. */
  default?: number | boolean | string;
  /** The default in words, where it is not one value ("off", "1 for euclidean, 0.5 for cosine"). */
  defaultText?: string;
  /** Bounds for numbers, inclusive unless `exclusiveMin` / `exclusiveMax`. */
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Where the value goes in the factory's options (default: [the option's key]). */
  path?: readonly string[];
}

/**
 * `Opts` is the factory's options type; a list of specs of different losses is a
 * `readonly LossSpec[]` (its factories take `never`: call them through `createLoss`, which checks
 * the options against the spec first).
 */
export interface LossSpec<Id extends string = string, Opts = never> {
  id: Id;
  kind: LossKind;
  summary: string;
  /** The loss's class (exact constructor), to find the spec of a loss object. */
  cls: abstract new (...args: never[]) => EmbeddingLoss;
  factory: (opts: Opts) => EmbeddingLoss;
  /** Hyperparameters, keyed as the command-line flag (kebab-case where it has two words). */
  options: Record<string, LossOption>;
}

/** The help text of an option, with its default. */
export function optionHelp(o: LossOption): string {
  const d = o.default !== undefined ? String(o.default) : o.defaultText;
  return d === undefined ? o.help : `${o.help} (default ${d})`;
}

/** Whether a number lies in an option's range. */
export function inRange(o: LossOption, n: number): boolean {
  return (
    (o.min === undefined || (o.exclusiveMin ? n > o.min : n >= o.min)) &&
    (o.max === undefined || (o.exclusiveMax ? n < o.max : n <= o.max))
  );
}

/**
 * Declares a loss. Checks the declaration itself: every default lies in its option's range (or
 * among its values), so a spec cannot advertise a default its own range refuses.
 */
export function defineLoss<const Id extends string, Opts>(spec: LossSpec<Id, Opts>): LossSpec<Id, Opts> {
  for (const [flag, o] of Object.entries(spec.options)) {
    const d = o.default;
    if (d === undefined) continue;
    const ok =
      o.type === 'enum'
        ? typeof d === 'string' && (o.values ?? []).includes(d)
        : o.type === 'boolean'
          ? typeof d === 'boolean'
          : typeof d === 'number' && (o.type !== 'integer' || Number.isInteger(d)) && inRange(o, d);
    if (!ok)
      throw new Error(`defineLoss(${spec.id}): the default ${JSON.stringify(d)} of --${flag} is outside its own range`);
  }
  return spec;
}

/** The scale s of a normalized head. */
export function scaleOption(dflt: number, help = 'scale s'): LossOption {
  return { type: 'number', min: 0, exclusiveMin: true, default: dflt, help };
}

/** An additive angular margin in radians, in [0, π/2). */
export function angularMarginOption(dflt: number, help = 'additive angular margin m in radians'): LossOption {
  return { type: 'number', min: 0, max: Math.PI / 2, exclusiveMax: true, default: dflt, help };
}

/** The margin's linear warm-up (`marginWarmup: { steps }`). */
export const MARGIN_WARMUP_OPTION: LossOption = {
  type: 'integer',
  min: 1,
  path: ['marginWarmup', 'steps'],
  defaultText: 'off',
  help: 'ramp the margin linearly from 0 to its value over this many steps',
};
