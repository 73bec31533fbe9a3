#!/usr/bin/env node
/**
 * `npm run flagship`: the statistic behind the course's flagship figures. Each normalized head is
 * trained with the course recipe (`trainEmbedding`: the notebooks' call) on MNIST digits 0–7 in a
 * 2-D and a 3-D embedding for several seeds, and the test features of the seen digits are
 * compared with the class weights: the mean cos(feature, own class weight), the classes whose
 * features sit on the far side of their own weight (mean cosine below 0), and closed-set accuracy
 * by nearest weight. The bar (issue #8): mean cosine ≥ 0.9 and at most one class in ten on the far
 * side, for every loss, dimension and seed. Exit status 1 when a row misses it.
 */
import * as path from 'path';
import { useBestBackend } from '../backend';
import { WeightInit } from '../losses';
import { FLAGSHIP_HEADS } from '../experiments/flagship';
import { ownWeightAgreement, WeightAgreement } from '../eval/metrics';
import { machineLine } from '../benchmark';
import { writeFileAtomic } from '../util/fs';
import { embedSet, headWeights, mnistOpenSet, quickMode, trainEmbedding } from '../workbook';
import { FlagSpec, parseFlags, runMain, UsageError, commaList as list } from './common';
import { minOf } from '../util/reduce';

export { FLAGSHIP_HEADS };

export interface FlagshipRow {
  loss: string;
  dim: number;
  seed: number;
  stats: WeightAgreement;
  seconds: number;
}

/** Does a row meet the bar: mean own-class cosine ≥ 0.9, at most one class in ten on the far side? */
export function meetsBar(stats: WeightAgreement): boolean {
  return stats.meanCos >= 0.9 && stats.farSide.length * 10 <= stats.classMeanCos.length;
}

export function flagshipTable(rows: FlagshipRow[]): string {
  const lines = [
    '| loss | dim | seed | mean cos(feature, own W) | lowest class mean | far side | accuracy | bar | seconds |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const s = r.stats;
    lines.push(
      `| ${r.loss} | ${r.dim} | ${r.seed} | ${s.meanCos.toFixed(3)} | ${minOf(s.classMeanCos).toFixed(3)} | ` +
        `${s.farSide.length} of ${s.classMeanCos.length}${s.farSide.length ? ` (${s.farSide.join(', ')})` : ''} | ` +
        `${(100 * s.accuracy).toFixed(1)} % | ${meetsBar(s) ? 'met' : '**missed**'} | ${r.seconds.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

const FLAGS: Record<string, FlagSpec> = {
  losses: {
    type: 'string',
    help: `comma-separated heads: ${Object.keys(FLAGSHIP_HEADS).join(', ')}`,
    default: Object.keys(FLAGSHIP_HEADS).join(','),
  },
  dims: { type: 'string', help: 'comma-separated embedding dimensions (2 or 3: the figures)', default: '2,3' },
  seeds: { type: 'string', help: 'comma-separated seeds', default: '1,2,3' },
  init: {
    type: 'string',
    help: "class-weight start: spread (the library's default in 2-D and 3-D) or normal (random, to see the trap)",
    default: 'spread',
  },
  out: { type: 'string', help: 'also write the table, with the machine and mode, to this Markdown file' },
};

function ints(flag: string, raw: string, allowed?: number[]): number[] {
  return list(flag, raw).map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 1 || (allowed && !allowed.includes(v)))
      throw new UsageError(
        `--${flag} ${JSON.stringify(s)}: expected ${allowed ? allowed.join(' or ') : 'a positive integer'}`,
      );
    return v;
  });
}

async function main(): Promise<void> {
  const v = parseFlags(
    process.argv.slice(2),
    FLAGS,
    'usage: npm run flagship -- [flags]   (MARGIN_LAB_QUICK=1: small MLP runs that check the pipeline, not the bar)',
  );
  const losses = list('losses', v.losses as string);
  for (const l of losses)
    if (!(l in FLAGSHIP_HEADS))
      throw new UsageError(
        `--losses: ${JSON.stringify(l)} is not a flagship head; expected ${Object.keys(FLAGSHIP_HEADS).join(', ')}`,
      );
  const dims = ints('dims', v.dims as string, [2, 3]);
  const seeds = ints('seeds', v.seeds as string);
  const init = v.init as WeightInit;
  if (init !== 'spread' && init !== 'normal')
    throw new UsageError(`--init ${JSON.stringify(init)}: expected spread or normal`);
  await useBestBackend();
  const split = mnistOpenSet();
  const C = split.train.classes.length;
  const rows: FlagshipRow[] = [];
  for (const loss of losses)
    for (const dim of dims)
      for (const seed of seeds) {
        const t0 = Date.now();
        const head = FLAGSHIP_HEADS[loss]({ numClasses: C, embeddingDim: dim, seed, init });
        const run = await trainEmbedding(split, head, { dim, seed, progress: 'none' });
        const seen = embedSet(run.model, split.testSeen);
        const stats = ownWeightAgreement(seen.points, seen.localLabels, headWeights(head));
        run.model.dispose();
        head.dispose();
        const row = { loss, dim, seed, stats, seconds: (Date.now() - t0) / 1000 };
        rows.push(row);
        console.log(flagshipTable([row]).split('\n')[2]);
      }
  const missed = rows.filter((r) => !meetsBar(r.stats));
  const table = flagshipTable(rows);
  const mode =
    (quickMode()
      ? 'quick mode (MLP, small data: checks the pipeline, not the bar)'
      : "full mode (the notebooks' full-mode recipe)") +
    `, class weights started ${init === 'spread' ? 'spread' : 'random (init: normal)'}`;
  const summary = `${rows.length - missed.length} of ${rows.length} runs meet the bar (mean cos ≥ 0.9, at most one class in ten on the far side)`;
  console.log(`\n${table}\n\n${summary}; ${mode}\n${machineLine()}`);
  if (v.out) {
    const out = path.resolve(v.out as string);
    writeFileAtomic(
      out,
      `# Flagship figures: features around their own class weight\n\nWritten by \`npm run flagship\`, ${mode}, MNIST digits 0–7 (${split.train.y.length} training, ${split.testSeen.y.length} test images).\nMachine: ${machineLine()}\n\n${table}\n\n${summary}.\n`,
    );
    console.log(`wrote ${out}`);
  }
  if (missed.length > 0 && !quickMode()) process.exitCode = 1;
}

if (require.main === module) runMain(main);
