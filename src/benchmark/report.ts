/** The benchmark's tables: the per-loss summary (Markdown, danfo), the per-run CSV, and the machine line. */
import * as os from 'os';
import { backendReport } from '../backend';
import { requireDanfo } from '../util/danfo';
import type { DataFrameLike } from '../util/dataframe';
import type { BenchmarkRun } from './run';

/** A fraction as a percentage for reports, or n/a. */
export function fmtPct(v: number | null): string {
  return v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`;
}

export interface SummaryRow {
  loss: string;
  runs: number;
  [metric: string]: string | number;
}

const METRICS: Array<[keyof BenchmarkRun, string]> = [
  ['tenFold', '10-fold acc'],
  ['eer', 'EER'],
  ['tar1e3', 'TAR@1e-3'],
  ['tar1e4', 'TAR@1e-4'],
  ['rank1', 'rank-1'],
  ['dir1e2', 'DIR@1e-2'],
];

/** Mean and (sample) standard deviation over seeds of each metric, per loss, in `losses` order. */
export function summarize(
  results: BenchmarkRun[],
  losses: string[],
): Array<{ loss: string; runs: number; mean: Record<string, number | null>; std: Record<string, number | null> }> {
  return losses
    .map((loss) => {
      const rs = results.filter((r) => r.loss === loss);
      const mean: Record<string, number | null> = {};
      const std: Record<string, number | null> = {};
      for (const [k] of METRICS) {
        const v = rs.map((r) => r[k] as number | null).filter((x): x is number => x !== null);
        if (v.length === 0) {
          mean[k] = null;
          std[k] = null;
          continue;
        }
        const mu = v.reduce((a, b) => a + b, 0) / v.length;
        mean[k] = mu;
        std[k] = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1)) : 0;
      }
      return { loss, runs: rs.length, mean, std };
    })
    .filter((r) => r.runs > 0);
}

/** A Markdown table of the summary (percentages, mean ± std over seeds). */
export function summaryMarkdown(sum: ReturnType<typeof summarize>): string {
  const head = `| loss | runs | ${METRICS.map(([, h]) => h).join(' | ')} |`;
  const sep = `|---|---|${METRICS.map(() => '---').join('|')}|`;
  const cell = (m: number | null, s: number | null) =>
    m === null ? 'n/a' : `${(100 * m).toFixed(2)} ± ${(100 * (s ?? 0)).toFixed(2)}`;
  return [
    head,
    sep,
    ...sum.map((r) => `| ${r.loss} | ${r.runs} | ${METRICS.map(([k]) => cell(r.mean[k], r.std[k])).join(' | ')} |`),
  ].join('\n');
}

/** One CSV row per run. */
export function resultsCsv(results: BenchmarkRun[]): string {
  const cols: Array<keyof BenchmarkRun> = [
    'loss',
    'seed',
    'tenFold',
    'tenFoldStd',
    'pairsPerFold',
    'eer',
    'auc',
    'tar1e3',
    'tar1e4',
    'rank1',
    'dir1e2',
    'genuinePairs',
    'impostorPairs',
    'trainSeconds',
    'finalTrainLoss',
  ];
  return (
    [cols.join(','), ...results.map((r) => cols.map((k) => (r[k] === null ? '' : String(r[k]))).join(','))].join('\n') +
    '\n'
  );
}

/** Where and how a benchmark ran, for the report. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${backendReport()?.line ?? 'backend not reported'}`;
}

/** The summary as a danfo DataFrame: one row per loss, "mean ± std" strings in %, plus numeric means. */
export function benchmarkFrame(sum: ReturnType<typeof summarize>): DataFrameLike {
  const dfd = requireDanfo('benchmarkFrame()');
  const rows = sum.map((r) => {
    const row: Record<string, string | number> = { loss: r.loss, runs: r.runs };
    for (const [k, h] of METRICS)
      row[h] =
        r.mean[k] === null
          ? 'n/a'
          : `${(100 * (r.mean[k] as number)).toFixed(2)} ± ${(100 * ((r.std[k] as number | null) ?? 0)).toFixed(2)}`;
    return row;
  });
  return new dfd.DataFrame(rows);
}
