/**
 * The loss options as command-line flags, generic over the specs (src/losses/spec.ts): each
 * option's flag is its spec key, the string is parsed as the option's type and checked with the
 * spec's own `accepts` (so the command line and the factory take the same values), and the help
 * of a flag is built from the specs of every loss that takes it. The catalogue (registry.ts) knows
 * nothing of `--`.
 */
import { lossEntry, lossesWithOption, registeredLosses } from './registry';
import { accepts, expectedText, LossOption, LossSpec, whyText } from './spec';

/**
 * Turns command-line option values (strings, keyed by flag) into factory options for a loss,
 * checking each parsed value with the spec's `accepts`, the check the factory makes too. Flags
 * that the loss does not take are errors naming the losses that do.
 */
export function lossOptionsFromFlags(
  id: string,
  flags: Record<string, string | boolean>,
  table: readonly LossSpec[] = registeredLosses(),
): Record<string, unknown> {
  const e = lossEntry(id, table);
  const out: Record<string, unknown> = {};
  for (const [flag, raw] of Object.entries(flags)) {
    const o = e.options[flag];
    if (!o) {
      const takers = lossesWithOption(flag, table);
      throw new Error(
        `--${flag} is not an option of ${id}; ${takers.length ? `losses with ${flag}: ${takers.join(', ')}` : 'no loss takes it'}`,
      );
    }
    // Parse the string as the option's type; what the value may be is the spec's to say.
    let v: unknown = raw;
    if (o.type === 'boolean') v = raw === 'true' ? true : raw === 'false' ? false : raw;
    else if (o.type === 'number' || o.type === 'integer')
      v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (!accepts(o, v)) {
      const why = whyText(o, v);
      const what = o.type === 'boolean' || o.type === 'enum' ? '' : `${id} `;
      throw new Error(
        `--${flag} ${JSON.stringify(raw)}: ${what}expects ${expectedText({ ...o, orFunction: false })}${why ? ` (${why})` : ''}`,
      );
    }
    const p = o.path ?? [flag];
    let target = out;
    for (const k of p.slice(0, -1)) target = (target[k] ??= {}) as Record<string, unknown>;
    target[p[p.length - 1]] = v;
  }
  return out;
}

/**
 * The help of a flag, from the specs of the losses that take it: one text when they agree
 * ("scale s (default 64; normface 16)"), or one per meaning, each naming its losses.
 */
function sharedHelp(takers: Array<{ id: string; o: LossOption }>): string {
  const groups = new Map<string, Array<{ id: string; o: LossOption }>>();
  for (const t of takers) groups.set(t.o.help, [...(groups.get(t.o.help) ?? []), t]);
  const shown = (o: LossOption) =>
    o.default !== undefined && !(o.type === 'boolean' && o.default === false) ? String(o.default) : o.defaultText;
  const text = (members: Array<{ id: string; o: LossOption }>) => {
    const o = members[0].o;
    const help = o.values ? `${o.help}: ${o.values.join(', ')}` : o.help;
    const defaults = members.map((m) => shown(m.o));
    if (defaults.every((d) => d === undefined)) return help;
    // The most common default, then the losses that differ from it.
    const counts = new Map<string, number>();
    for (const d of defaults) if (d !== undefined) counts.set(d, (counts.get(d) ?? 0) + 1);
    const main = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const others = members.filter((_, i) => defaults[i] !== main && defaults[i] !== undefined);
    return `${help} (default ${main}${others.map((m) => `; ${m.id} ${shown(m.o)}`).join('')})`;
  };
  // The meaning most losses share first, unnamed; the others named by their losses.
  const gs = [...groups.values()].sort((a, b) => b.length - a.length);
  const unnamed = gs.length === 1 || gs[0].length > gs[1].length;
  return gs.map((g, i) => (i === 0 && unnamed ? text(g) : `${g.map((m) => m.id).join(', ')}: ${text(g)}`)).join('; ');
}

/** Every flag any loss takes, with the losses that take it and its help (for --help), from the specs. */
export function lossFlagHelp(
  table: readonly LossSpec[] = registeredLosses(),
): Array<{ flag: string; type: LossOption['type']; help: string; losses: string[] }> {
  const takers = new Map<string, Array<{ id: string; o: LossOption }>>();
  for (const e of table)
    for (const [flag, o] of Object.entries(e.options)) takers.set(flag, [...(takers.get(flag) ?? []), { id: e.id, o }]);
  return [...takers.entries()].map(([flag, t]) => ({
    flag,
    type: t[0].o.type,
    help: sharedHelp(t),
    losses: t.map((x) => x.id),
  }));
}
