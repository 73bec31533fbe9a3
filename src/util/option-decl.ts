/**
 * A declared option: its type, range or values, defaults, help, flag and whether a checkpoint
 * keeps it. The training options (src/train/options.ts) and the backbone's (src/models/options.ts)
 * are declared this way once; the train command's flags, `train()`'s checks, `buildBackbone`'s
 * checks and the checkpoint schema all read the same declaration, so a range cannot differ
 * between them (test/options.test.ts probes each option's edges through all four).
 */
import { inRange, NumericRange, rangeText } from './range';

export interface OptionDecl {
  /** `intList`: a list of integers, each within `range`. */
  type: 'number' | 'boolean' | 'enum' | 'intList';
  /** The accepted numbers (`number`; each element of an `intList`). */
  range?: NumericRange;
  /** The accepted values (`enum`). */
  values?: readonly string[];
  /** What the library uses when the option is absent (none: required, or derived from others). */
  default?: unknown;
  /** The train command's default where it differs from the library's, or the library has none. */
  cliDefault?: string;
  /** One line of help: what the option does (the range and defaults are added where shown). */
  help: string;
  /** Why the range is what it is, added to the refusal. */
  why?: string;
  /** The train command's flag that sets it (none: a library-only option). */
  flag?: string;
  /** Whether checkpoint.json keeps it, and whether a checkpoint must have it. Absent: not kept. */
  checkpoint?: 'required' | 'optional';
}

/** What the option accepts, in words: "a number in [0, 1)", "one of adam, sgd", "true or false". */
export function expectedText(d: OptionDecl): string {
  if (d.type === 'boolean') return 'true or false';
  if (d.type === 'enum') return `one of ${(d.values ?? []).join(', ')}`;
  if (d.type === 'intList') return `a list of ${rangeText({ ...d.range, int: true }).replace(/^an /, '')}s`;
  return rangeText(d.range ?? {});
}

/** Whether `v` is a valid value of the option. */
export function acceptsValue(d: OptionDecl, v: unknown): boolean {
  if (d.type === 'boolean') return typeof v === 'boolean';
  if (d.type === 'enum') return typeof v === 'string' && (d.values ?? []).includes(v);
  if (d.type === 'intList') return Array.isArray(v) && v.every((x) => inRange({ ...d.range, int: true }, x));
  return inRange(d.range ?? {}, v);
}

/** A value for a message: numbers as JavaScript prints them (NaN, -3), the rest as JSON. */
export function showValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/**
 * Throws `make(message)` when `v` is not a valid value: "<who><key> must be <expected>, got <v>"
 * and the declaration's reason. `who` is the prefix ("train: ", "backbone mlp: ").
 */
export function checkDeclared(
  who: string,
  key: string,
  d: OptionDecl,
  v: unknown,
  make: (message: string) => Error = (m) => new Error(m),
): void {
  if (!acceptsValue(d, v))
    throw make(`${who}${key} must be ${expectedText(d)}, got ${showValue(v)}${d.why ? ` (${d.why})` : ''}`);
}

/** The help line of a flag: what it does, what it accepts, its default. */
export function flagHelp(d: OptionDecl): string {
  const accepts = d.type === 'number' ? `, ${expectedText(d)}` : '';
  const dflt = d.cliDefault ?? (d.default === undefined || d.type === 'boolean' ? undefined : String(d.default));
  return `${d.help}${accepts}${dflt !== undefined && d.cliDefault === undefined ? ` (default: ${dflt})` : ''}`;
}
