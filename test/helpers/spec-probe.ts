/**
 * Probes every option of every spec in `table` at and around its bounds (every value of an enum,
 * both booleans) through the command line's parser and through the factory; returns where they
 * disagree (one accepts what the other refuses) and how many values were probed.
 */
import * as ml from 'margin-lab';
import { lossOptionsFromFlags } from 'margin-lab/dist/losses/flags';

export function probeOptionAgreement(table: readonly ml.LossSpec[] = ml.LOSS_TABLE): {
  disagree: string[];
  probes: number;
} {
  const createLoss = ml.createLoss;
  // Options that only apply together with another (SphereFace's s needs --normalized).
  const companions: Record<string, Record<string, Record<string, unknown>>> = {
    sphereface: { s: { normalized: true } },
  };
  const disagree: string[] = [];
  let probes = 0;
  for (const e of table) {
    for (const [flag, o] of Object.entries(e.options)) {
      const comp = companions[e.id]?.[flag] ?? {};
      const values: unknown[] =
        o.type === 'enum'
          ? [...o.values!, 'no-such-value']
          : o.type === 'boolean'
            ? [true, false]
            : [
                ...[o.min, o.max].flatMap((b) =>
                  b === undefined
                    ? []
                    : [b, b - (o.type === 'integer' ? 1 : 1e-6), b + (o.type === 'integer' ? 1 : 1e-6)],
                ),
                0,
                o.max === undefined ? 1e3 : o.max / 2,
                o.type === 'integer' ? 2.5 : NaN,
              ];
      for (const v of values) {
        probes++;
        let cli = true;
        let cliWhy = '';
        try {
          lossOptionsFromFlags(
            e.id,
            {
              [flag]: typeof v === 'boolean' ? v : String(v),
              ...(comp as Record<string, boolean>),
            },
            table,
          );
        } catch (err) {
          cli = false;
          cliWhy = (err as Error).message;
        }
        const p = o.path ?? [flag];
        const opts: Record<string, unknown> = { ...comp };
        let t = opts;
        for (const k of p.slice(0, -1)) t = (t[k] ??= {}) as Record<string, unknown>;
        t[p[p.length - 1]] = v;
        let api = true;
        let apiWhy = '';
        try {
          createLoss(e.id, { numClasses: 3, embeddingDim: 4, ...opts }, table).dispose();
        } catch (err) {
          api = false;
          apiWhy = (err as Error).message;
        }
        if (cli !== api)
          disagree.push(
            `${e.id} --${flag} ${String(v)}: command line ${cli ? 'accepts' : 'refuses'}, API ${api ? 'accepts' : 'refuses'} (${cliWhy || apiWhy})`,
          );
      }
    }
  }
  return { disagree, probes };
}
