/**
 * A loss's declaration: its id, kind, summary, class and factory, and each hyperparameter once,
 * with its type, range, default and help. Everything else is derived from it:
 *
 * - the factory and the constructor check their options with `resolveOptions` (known keys, types,
 *   ranges), which also fills in the declared defaults: the one place a default is resolved;
 * - the command line's flags (src/losses/flags.ts) parse a string and check it with `accepts`,
 *   the test `checkOption` makes, so the CLI and the API accept and refuse exactly the same values
 *   (a test probes every range boundary);
 * - `--help`, the docs table in docs/losses.md and the range text of every message come from the
 *   same declaration (`rangeText`, `expectedText`);
 * - `config()` (what a checkpoint stores and `createLoss` rebuilds from) is `specConfig`.
 *
 * The compiler links a spec to its options interface: `defineLoss` refuses a spec whose option
 * keys (with `extraKeys`) differ from the interface's keys besides the classifier's HeadOptions.
 * The interface stays hand-written, with JSDoc on every option, as tfjs-layers' `XxxArgs`.
 */
import type { EmbeddingLoss, HeadOptions } from './head';
import { formatBound, LossInputError } from './validate';

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
  /** Why a refused value is wrong, added to the message ("the paper uses 4", a degrees hint). */
  why?: string | ((value: number) => string);
  /**
   * The API also takes a function here, which the command line cannot give (a custom triplet
   * miner). Only for enums; `config()` then stores the function's name.
   */
  orFunction?: boolean;
}

/** The head's keys, which every classifier (kind 'head' or 'head+centers') takes besides its options. */
export const HEAD_KEYS = ['numClasses', 'embeddingDim', 'weights', 'init', 'seed'] as const;

/**
 * `Opts` is the factory's options type and `O` the declared options; a list of specs of different
 * losses is a `readonly LossSpec[]` (its factories take `never`: call them through `createLoss`,
 * which checks the options against the spec first).
 */
export interface LossSpec<
  Id extends string = string,
  Opts = never,
  O extends Record<string, LossOption> = Record<string, LossOption>,
  X extends string = string,
> {
  id: Id;
  kind: LossKind;
  summary: string;
  /** The loss's class (exact constructor), to find the spec of a loss object. */
  cls: abstract new (...args: never[]) => EmbeddingLoss;
  factory: (opts: Opts) => EmbeddingLoss;
  /** Hyperparameters, keyed as the command-line flag (kebab-case where it has two words). */
  options: O;
  /**
   * Factory keys that are not command-line options: values only code can give (softmax's initial
   * `bias`) or state a restored run passes back (AdaFace's `initialMean`). The loss checks them.
   */
  extraKeys?: readonly X[];
}

/** The factory key an option sets (the first step of its path). */
type ApiKeyOf<F, O> = O extends { readonly path: readonly [infer P extends string, ...unknown[]] } ? P : F;
/** The factory keys a spec's options set. */
export type SpecKeys<O> = { [F in keyof O]: ApiKeyOf<F, O[F]> }[keyof O];
/** The factory keys whose default the spec declares (options at the top level of the factory's options). */
export type DefaultedKeys<O> = {
  [F in keyof O]: O[F] extends { readonly path: readonly [string, string, ...string[]] }
    ? never
    : O[F] extends { readonly default: number | boolean | string }
      ? ApiKeyOf<F, O[F]>
      : never;
}[keyof O];
/** A factory's options after `resolveOptions`: every option with a declared default is set. */
export type Resolved<Opts, O> = NonNullable<Opts> & {
  [K in DefaultedKeys<O> & keyof NonNullable<Opts>]-?: Exclude<NonNullable<Opts>[K], undefined>;
};
/** The keys on which an options interface and a spec disagree (never when they are linked). */
type Unlinked<Opts, O, X extends string> =
  | Exclude<Exclude<keyof NonNullable<Opts>, keyof HeadOptions>, SpecKeys<O> | X>
  | Exclude<SpecKeys<O> | X, keyof NonNullable<Opts>>;

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
 * A number option's range in words: "[0, π/2)", "> 0", "≥ 1", or "" when it has none. The one
 * formatter of ranges: messages, `--help` errors and the docs table all use it.
 */
export function rangeText(o: LossOption): string {
  if (o.min !== undefined && o.max !== undefined)
    return `${o.exclusiveMin ? '(' : '['}${formatBound(o.min)}, ${formatBound(o.max)}${o.exclusiveMax ? ')' : ']'}`;
  if (o.min !== undefined) return `${o.exclusiveMin ? '>' : '≥'} ${formatBound(o.min)}`;
  if (o.max !== undefined) return `${o.exclusiveMax ? '<' : '≤'} ${formatBound(o.max)}`;
  return '';
}

/** What an option takes, in words: "a number in [0, π/2)", "an integer ≥ 1", "one of a, b", "true or false". */
export function expectedText(o: LossOption): string {
  if (o.type === 'boolean') return 'true or false';
  if (o.type === 'enum') return `one of ${(o.values ?? []).join(', ')}${o.orFunction ? ', or a function' : ''}`;
  const r = rangeText(o);
  const what = o.type === 'integer' ? 'an integer' : 'a number';
  return r === '' ? what : r.startsWith('[') || r.startsWith('(') ? `${what} in ${r}` : `${what} ${r}`;
}

/** Whether the option takes the value (type, range, enum values). */
export function accepts(o: LossOption, v: unknown): boolean {
  if (o.type === 'boolean') return typeof v === 'boolean';
  if (o.type === 'enum')
    return (typeof v === 'string' && (o.values ?? []).includes(v)) || (!!o.orFunction && typeof v === 'function');
  return typeof v === 'number' && Number.isFinite(v) && (o.type !== 'integer' || Number.isInteger(v)) && inRange(o, v);
}

/** A value as a message shows it: 0.5, "cos", null, or a quoted number with the hint to unquote it. */
function shown(v: unknown): string {
  if (typeof v === 'string') {
    const n = Number(v);
    return `the string ${JSON.stringify(v)}${v.trim() !== '' && Number.isFinite(n) ? ` (write ${n} without quotes)` : ''}`;
  }
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

/** The option's reason for refusing a value, or '' (a `why` function is asked about numbers only). */
export function whyText(o: LossOption, v: unknown): string {
  return typeof o.why === 'function' ? (typeof v === 'number' ? o.why(v) : '') : (o.why ?? '');
}

/**
 * Throws a LossInputError unless the option takes the value: "arcface: m must be a number in
 * [0, π/2), got 2", with the option's `why` where it has one.
 */
export function checkOption(loss: string, key: string, o: LossOption, v: unknown): void {
  if (accepts(o, v)) return;
  const why = whyText(o, v);
  const got = o.type === 'enum' && typeof v === 'string' ? JSON.stringify(v) : shown(v);
  throw new LossInputError(`${loss}: ${key} must be ${expectedText(o)}, got ${got}${why ? ` (${why})` : ''}`);
}

/** The factory keys a spec takes: the head's keys for classifiers, its options' keys, its extra keys. */
export function factoryKeys(spec: LossSpec<string, never, Record<string, LossOption>, string>): string[] {
  const keys: string[] = spec.kind === 'pair' ? [] : [...HEAD_KEYS];
  for (const [flag, o] of Object.entries(spec.options)) {
    const k = (o.path ?? [flag])[0];
    if (!keys.includes(k)) keys.push(k);
  }
  for (const k of spec.extraKeys ?? []) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a factory's options against the spec and returns them with every declared default filled
 * in. Unknown keys, values of the wrong type and values out of range throw a LossInputError that
 * names the loss, the key, the value and what was expected. Nested options (`schedule.base`) are
 * checked where their parent object is given; the parent's other keys are the loss's to check.
 * `name` is the loss named in messages (a subclass's id; default the spec's).
 */
export function resolveOptions<Opts, O extends Record<string, LossOption>, X extends string>(
  spec: LossSpec<string, Opts, O, X>,
  opts: Opts,
  name: string = spec.id,
): Resolved<Opts, O> {
  const s = spec as unknown as LossSpec<string, never, Record<string, LossOption>, string>;
  const keys = factoryKeys(s);
  if (!isPlainObject(opts))
    throw new LossInputError(
      `${name}: options must be an object with keys among ${keys.join(', ')}; got ${shown(opts)}`,
    );
  const unknown = Object.keys(opts).filter((k) => !keys.includes(k));
  if (unknown.length > 0)
    throw new LossInputError(
      `${name}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is not an option' : 'are not options'} of ${name}; it takes ${keys.join(', ')}`,
    );
  const out: Record<string, unknown> = { ...opts };
  for (const [flag, o] of Object.entries(s.options)) {
    const path = o.path ?? [flag];
    let parent: Record<string, unknown> = out;
    let reachable = true;
    for (let i = 0; i < path.length - 1; i++) {
      const next = parent[path[i]];
      if (next === undefined) {
        reachable = false;
        break;
      }
      if (!isPlainObject(next)) {
        const leaves = Object.values(s.options)
          .filter((x) => x.path && x.path.length > 1 && x.path[0] === path[0])
          .map((x) => x.path![1]);
        throw new LossInputError(
          `${name}: ${path.slice(0, i + 1).join('.')} must be an object with ${leaves.join(', ')}, got ${shown(next)}`,
        );
      }
      parent = next;
    }
    if (!reachable) continue;
    const leaf = path[path.length - 1];
    const v = parent[leaf];
    if (v === undefined) {
      if (path.length === 1 && o.default !== undefined) out[leaf] = o.default;
      continue;
    }
    checkOption(name, path.join('.'), o, v);
  }
  return out as Resolved<Opts, O>;
}

/**
 * The options part of a loss's `config()`: `loss` (the id), the classifier's shape, and the value
 * of every top-level option, read from `values` (the resolved options, or the loss itself) by its
 * factory key; nested options (a schedule, a warm-up) and state are the loss's to add.
 */
export function specConfig(
  spec: LossSpec<string, never, Record<string, LossOption>, string>,
  values: object,
  shape?: { numClasses: number; embeddingDim: number },
): Record<string, unknown> {
  const out: Record<string, unknown> = { loss: spec.id };
  if (shape) Object.assign(out, { numClasses: shape.numClasses, embeddingDim: shape.embeddingDim });
  for (const [flag, o] of Object.entries(spec.options)) {
    const path = o.path ?? [flag];
    if (path.length > 1) continue;
    const v = (values as Record<string, unknown>)[path[0]];
    if (v !== undefined) out[path[0]] = v;
  }
  return out;
}

/**
 * Declares a loss. The compiler checks that the spec's option keys (with `extraKeys`) are exactly
 * the keys of the factory's options type besides HeadOptions; at run time it checks that every
 * default lies in its option's range (or among its values), so a spec cannot advertise a default
 * its own range refuses.
 */
export function defineLoss<
  const Id extends string,
  Opts,
  const O extends Record<string, LossOption>,
  const X extends string = never,
>(
  spec: LossSpec<Id, Opts, O, X> &
    ([Unlinked<Opts, O, X>] extends [never]
      ? unknown
      : { 'keys where the spec and the options type differ': Unlinked<Opts, O, X> }),
): LossSpec<Id, Opts, O, X> {
  for (const [flag, o] of Object.entries(spec.options as Record<string, LossOption>)) {
    if (o.default !== undefined && (o.orFunction ? typeof o.default !== 'string' : !accepts(o, o.default)))
      throw new Error(
        `defineLoss(${spec.id}): the default ${JSON.stringify(o.default)} of --${flag} is outside its own range`,
      );
    if (o.orFunction && o.type !== 'enum')
      throw new Error(`defineLoss(${spec.id}): --${flag}: orFunction is for enums`);
  }
  return spec;
}

/** The scale s of a normalized head. */
export function scaleOption(dflt: number, help = 'scale s'): LossOption & { default: number } {
  return { type: 'number', min: 0, exclusiveMin: true, default: dflt, help };
}

/** An additive angular margin in radians, in [0, π/2); a value from 2 to 90 is most likely degrees. */
export function angularMarginOption(
  dflt: number,
  help = 'additive angular margin m in radians',
): LossOption & { default: number } {
  return {
    type: 'number',
    min: 0,
    max: Math.PI / 2,
    exclusiveMax: true,
    default: dflt,
    help,
    // pytorch-metric-learning's ArcFaceLoss takes degrees: its default 28.6 is 0.5 rad.
    why: (m) =>
      m >= 2 && m < 90
        ? `margins are in radians (0.5 rad = 28.6°); ${m}° would be ${((m * Math.PI) / 180).toFixed(4)} rad`
        : m >= Math.PI / 2
          ? 'in radians; an angular margin of π/2 or more leaves no room between classes'
          : '',
  };
}

/** The margin's linear warm-up (`marginWarmup: { steps }`). */
export const MARGIN_WARMUP_OPTION = {
  type: 'integer',
  min: 1,
  path: ['marginWarmup', 'steps'],
  defaultText: 'off',
  help: 'ramp the margin linearly from 0 to its value over this many steps',
} as const satisfies LossOption;
