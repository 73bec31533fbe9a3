/**
 * The budget study: the same losses trained at several budgets (epochs), each budget its own
 * run with its own warm-up and cosine schedule, to see where each loss stops improving and
 * whether the benchmark's ordering is an ordering of losses or of stages of training.
 *
 * A run at a budget is a benchmark run (`runOpenSetBenchmark`) whose configuration differs only
 * in `epochs`, so it is stored, reused and resumed like any benchmark run, in the same folder.
 * A mid-schedule evaluation of a longer run is never used as a shorter budget: the learning rate
 * of a run has not finished decaying before its last epoch.
 */
import { BenchmarkConfig, BenchmarkRun, runOpenSetBenchmark } from '../benchmark';
import type { GlyphDataset } from '../data/glyphs';
import type { LossName } from '../losses';

export interface ConvergenceOptions {
  /**
   * The configuration the budgets vary; its `epochs` is replaced by each budget in place, so a
   * budget's run has the key `npm run benchmark -- --epochs <budget>` gives the same
   * configuration (the key hashes the fields in their order).
   */
  base: BenchmarkConfig;
  /** Budgets in epochs, each trained as its own run. */
  budgets: number[];
  /** Folder for the runs (one JSON per run, named by configuration key as the benchmark's). */
  dir: string;
  data?: GlyphDataset;
  progress?: 'auto' | 'tty' | 'lines' | 'notebook' | 'none';
  log?: (line: string) => void;
  /** Only read the finished runs; train none (a study in progress). */
  finishedOnly?: boolean;
}

/** One (loss, budget) cell: means over the seeds that have finished. */
export interface ConvergenceRow {
  loss: LossName;
  epochs: number;
  /** Finished runs (seeds) of this cell; 0 when none has finished. */
  runs: number;
  tar1e3: number | null;
  tar1e4: number | null;
  rank1: number | null;
  dir1e2: number | null;
  finalTrainLoss: number | null;
  finalTrainAccuracy: number | null;
  trainSeconds: number | null;
}

/** Where the study's TAR@1e-4 settles (see {@link settledBudget}). */
export interface Settlement {
  /** The smallest budget whose TAR@1e-4 is within `tolerance` points of the previous budget's for every loss, or null. */
  budget: number | null;
  /** The losses still moving by `tolerance` points or more between the last two budgets with results. */
  moving: LossName[];
  /** The largest step, in points, of each loss between the last two budgets with results. */
  lastStep: Partial<Record<LossName, number>>;
  /** Whether every cell of the study has its runs (a partial study can only say so much). */
  complete: boolean;
}

function check(budgets: number[]): void {
  if (budgets.length === 0) throw new Error('convergence: give at least one budget');
  budgets.forEach((b, i) => {
    if (!Number.isInteger(b) || b < 1)
      throw new Error(`convergence: budgets must be integers ≥ 1 (epochs), got ${JSON.stringify(b)}`);
    if (i > 0 && b <= budgets[i - 1]) throw new Error(`convergence: budgets must increase, got ${budgets.join(', ')}`);
  });
}

/** Trains (or reads) every (loss, seed) at every budget; the smallest budgets first. */
export async function runConvergence(
  opts: ConvergenceOptions,
): Promise<{ rows: ConvergenceRow[]; results: Array<BenchmarkRun & { epochs: number }> }> {
  check(opts.budgets);
  const rows: ConvergenceRow[] = [];
  const all: Array<BenchmarkRun & { epochs: number }> = [];
  for (const epochs of opts.budgets) {
    (opts.log ?? console.log)(`convergence: ${epochs} epoch${epochs > 1 ? 's' : ''}`);
    const results = await runOpenSetBenchmark({
      config: { ...opts.base, epochs },
      dir: opts.dir,
      data: opts.data,
      progress: opts.progress,
      log: opts.log,
      ...(opts.finishedOnly ? { finishedOnly: true } : {}),
    });
    all.push(...results.map((r) => ({ ...r, epochs })));
    for (const loss of opts.base.losses) {
      const rs = results.filter((r) => r.loss === loss);
      const mean = (f: (r: BenchmarkRun) => number | null | undefined): number | null => {
        const xs = rs.map(f).filter((x): x is number => typeof x === 'number');
        return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
      };
      rows.push({
        loss,
        epochs,
        runs: rs.length,
        tar1e3: mean((r) => r.tar1e3),
        tar1e4: mean((r) => r.tar1e4),
        rank1: mean((r) => r.rank1),
        dir1e2: mean((r) => r.dir1e2),
        finalTrainLoss: mean((r) => r.finalTrainLoss),
        finalTrainAccuracy: mean((r) => r.finalTrainAccuracy),
        trainSeconds: mean((r) => r.trainSeconds),
      });
    }
  }
  return { rows, results: all };
}

/**
 * The headline budget by the study's rule: the smallest budget at which every loss's TAR@1e-4
 * moves by less than `tolerance` (1 point by default) from the previous budget. Budgets where
 * some loss has no finished run are not judged.
 */
export function settledBudget(rows: ConvergenceRow[], tolerance = 0.01): Settlement {
  const losses = [...new Set(rows.map((r) => r.loss))];
  const budgets = [...new Set(rows.map((r) => r.epochs))].sort((a, b) => a - b);
  const at = (loss: LossName, b: number) => rows.find((r) => r.loss === loss && r.epochs === b)?.tar1e4 ?? null;
  const judged = budgets.filter((b) => losses.every((l) => at(l, b) !== null));
  let budget: number | null = null;
  for (let i = 1; i < judged.length && budget === null; i++)
    if (losses.every((l) => Math.abs(at(l, judged[i])! - at(l, judged[i - 1])!) < tolerance)) budget = judged[i];
  const lastStep: Partial<Record<LossName, number>> = {};
  const moving: LossName[] = [];
  if (judged.length >= 2) {
    const [a, b] = judged.slice(-2);
    for (const l of losses) {
      const step = 100 * (at(l, b)! - at(l, a)!);
      lastStep[l] = step;
      if (Math.abs(step) >= 100 * tolerance) moving.push(l);
    }
  }
  return { budget, moving, lastStep, complete: rows.every((r) => r.runs > 0) };
}

/** The report's verdict in one sentence: where the study settles, or which losses still move by how much. */
export function settlementVerdict(rows: ConvergenceRow[]): string {
  const settled = settledBudget(rows);
  const budgets = [...new Set(rows.map((r) => r.epochs))].sort((a, b) => a - b);
  // The largest budget every loss has finished: the verdict's horizon (a budget still training is not judged).
  const last = budgets.filter((b) => rows.filter((r) => r.epochs === b).every((r) => r.runs > 0)).at(-1);
  if (settled.budget !== null)
    return `Every loss's TAR@1e-4 moves by less than 1 point from the previous budget at **${settled.budget} epochs**: the smallest budget at which the study settles${settled.complete ? '' : ' (among the budgets finished so far)'}.`;
  const moving = settled.moving.length
    ? `${settled.moving.map((l) => `${l} (${settled.lastStep[l]! >= 0 ? '+' : ''}${settled.lastStep[l]!.toFixed(1)} points)`).join(', ')} still move${settled.moving.length === 1 ? 's' : ''} by 1 point or more`
    : 'fewer than two budgets have every loss finished';
  return `**Not settled** by ${last ?? '—'} epochs: between the last two finished budgets, ${moving}.`;
}

const pct = (v: number | null) => (v === null ? 'n/a' : (100 * v).toFixed(2));

/** The study as Markdown tables: one row per (loss, budget), then TAR@1e-4 per loss across budgets. */
export function convergenceMarkdown(rows: ConvergenceRow[]): string {
  const budgets = [...new Set(rows.map((r) => r.epochs))].sort((a, b) => a - b);
  const losses = [...new Set(rows.map((r) => r.loss))];
  const cell = (loss: LossName, b: number, f: (r: ConvergenceRow) => string) => {
    const r = rows.find((x) => x.loss === loss && x.epochs === b);
    return r && r.runs > 0 ? f(r) : '—';
  };
  const wide = (title: string, f: (r: ConvergenceRow) => string) => [
    `| ${title} | ${budgets.map((b) => `${b} ep`).join(' | ')} |`,
    `|---|${budgets.map(() => '---').join('|')}|`,
    ...losses.map((l) => `| ${l} | ${budgets.map((b) => cell(l, b, f)).join(' | ')} |`),
  ];
  const long = [
    '| loss | epochs | runs | final train loss | train accuracy | TAR@1e-3 | TAR@1e-4 | rank-1 | DIR@1e-2 | training time |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...losses.flatMap((l) =>
      budgets.map((b) => {
        const r = rows.find((x) => x.loss === l && x.epochs === b)!;
        if (!r || r.runs === 0) return `| ${l} | ${b} | 0 | not run yet | | | | | | |`;
        return `| ${l} | ${b} | ${r.runs} | ${r.finalTrainLoss!.toFixed(3)} | ${pct(r.finalTrainAccuracy)} | ${pct(r.tar1e3)} | ${pct(r.tar1e4)} | ${pct(r.rank1)} | ${pct(r.dir1e2)} | ${r.trainSeconds === null ? 'n/a' : `${(r.trainSeconds / 60).toFixed(1)} min`} |`;
      }),
    ),
  ];
  return [
    ...wide('TAR@1e-4 (%)', (r) => pct(r.tar1e4)),
    '',
    ...wide('rank-1 (%)', (r) => pct(r.rank1)),
    '',
    ...wide('final training loss', (r) => r.finalTrainLoss!.toFixed(3)),
    '',
    ...long,
  ].join('\n');
}
