#!/usr/bin/env node
/**
 * `npm run benchmark`: the open-set benchmark of the losses on the Hangul glyph identities
 * (src/benchmark). Resumable: finished runs are kept in <out>/runs and skipped.
 * MARGIN_LAB_QUICK=1 runs a tiny configuration that checks the pipeline, not the ordering.
 */
import * as path from 'path';
import { useBestBackend } from '../backend';
import { LOSS_NAMES, LossName } from '../losses';
import { BACKBONES, BackboneName, NECK_LAYOUTS, NeckLayout } from '../models';
import { saveHtml } from '../plot/show';
import {
  benchmarkBars,
  benchmarkRocs,
  convergenceFigures,
  BenchmarkConfig,
  configKey,
  CORE_LOSSES,
  EXTRA_LOSSES,
  machineLine,
  resultsCsv,
  runOpenSetBenchmark,
  summarize,
  summaryMarkdown,
  BenchmarkRun,
  benchmarkSplit,
  BENCHMARK_RECIPES,
  BENCHMARK_BUDGET_DEFAULTS,
  BenchmarkRecipe,
  RECIPE_SUMMARY,
  fullGlyphDir,
  fullGlyphSetBuilt,
  recipeLine,
  recipeFields,
} from '../benchmark';
import { loadHangulGlyphs } from '../data/glyphs';
import { ABLATION_BUDGET, ABLATION_VARIANTS, ablationMarkdown, runAblation } from '../experiments/ablation';
import { compareTwin, runTwin, TWIN_TOLERANCE, twinMarkdown } from '../experiments/twin';
import { convergenceMarkdown, runConvergence, settlementVerdict } from '../experiments/convergence';
import { writeFileAtomic } from '../util/fs';
import {
  checkOutputDir,
  checkOutputFile,
  FlagSpec,
  num,
  parseFlags,
  runMain,
  UsageError,
  commaList as list,
} from './common';
import { commandLine } from '../util/commands';

const QUICK = process.env.MARGIN_LAB_QUICK === '1';
/** The losses of a quick-mode benchmark (MARGIN_LAB_QUICK=1) without --losses. */
const QUICK_LOSSES: LossName[] = ['softmax', 'arcface'];

const FLAGS: Record<string, FlagSpec> = {
  all: { type: 'boolean', help: `also ${EXTRA_LOSSES.join(', ')}` },
  losses: {
    type: 'string',
    help: `comma-separated losses (default: ${CORE_LOSSES.join(', ')}; MARGIN_LAB_QUICK=1: ${QUICK_LOSSES.join(', ')})`,
  },
  seeds: { type: 'string', help: 'comma-separated seeds (default 1,2,3; MARGIN_LAB_QUICK=1: 1)' },
  epochs: { type: 'string', help: 'epochs per run (default 3; MARGIN_LAB_QUICK=1: 2)' },
  'max-steps': { type: 'string', help: 'cap on steps per epoch (MARGIN_LAB_QUICK=1: 60)' },
  batch: { type: 'string', help: 'batch size', default: String(BENCHMARK_BUDGET_DEFAULTS.batch) },
  dim: { type: 'string', help: 'embedding dimension', default: String(BENCHMARK_BUDGET_DEFAULTS.dim) },
  backbone: {
    type: 'string',
    help: `backbone: ${BACKBONES.join(', ')}`,
    default: BENCHMARK_BUDGET_DEFAULTS.backbone,
  },
  'neck-layout': {
    type: 'string',
    help: `the reference backbone's layers from its conv blocks to the embedding, with the face recipe: ${NECK_LAYOUTS.join(', ')} (default: bn-relu; relu-bn is the layout of the runs made before it existed)`,
  },
  recipe: {
    type: 'string',
    help: `training recipe: ${Object.entries(RECIPE_SUMMARY)
      .map(([k, what]) => `${k} (${what})`)
      .join(' or ')}`,
    default: 'face',
  },
  lr: {
    type: 'string',
    help: `learning rate (default: the recipe's, ${Object.entries(BENCHMARK_RECIPES)
      .map(([k, r]) => `${r.lr} ${k}`)
      .join(', ')})`,
  },
  data: {
    type: 'string',
    help: 'glyph set: full (npm run data:glyphs -- --full), shipped (1,000 syllables × 40 faces) or auto (full when built)',
    default: 'auto',
  },
  identities: {
    type: 'string',
    help: 'use only the first N syllables (default: all of the set; MARGIN_LAB_QUICK=1: 200)',
  },
  out: {
    type: 'string',
    help: 'folder for runs, results.csv, figures.html and benchmark.md (default benchmark, or benchmark/adam for --recipe adam; MARGIN_LAB_QUICK=1: benchmark/quick)',
  },
  'finished-only': {
    type: 'boolean',
    help: 'report the runs already finished in <out>/runs and train none (a benchmark in progress); with --twin, likewise only the finished twin runs',
  },
  twin: {
    type: 'boolean',
    help: 'also train every run in PyTorch from the same start, batches and learning rates (bench/torch_twin.py) and compare',
  },
  python: {
    type: 'string',
    help: 'with --twin: the Python with torch (default MARGIN_LAB_PYTHON or /usr/bin/python3)',
  },
  ablation: {
    type: 'boolean',
    help: 'the recipe ablation instead: ArcFace and softmax with one ingredient of the recipe changed at a time (shipped set; writes <out>/ablation.md)',
  },
  budgets: {
    type: 'string',
    help: 'the budget study instead: the losses trained at each of these epochs, a,b,c (each its own run and schedule; seeds default 1; writes <out>/convergence.md, .csv and .html; default out benchmark/convergence)',
  },
  variants: {
    type: 'string',
    help: `with --ablation: only these variants (${ABLATION_VARIANTS.map((x) => x.id).join(', ')})`,
  },
  docs: {
    type: 'string',
    help: 'also write the Markdown report here (e.g. docs/benchmark.md); by default it goes only to <out>/benchmark.md',
  },
};

function pct(v: number | null): string {
  return v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`;
}

/** The ArcFace paper's ordering set beside ours: which pairs agree, on the two headline metrics. */
function anchorSection(sum: ReturnType<typeof summarize>): string {
  const m = new Map(sum.map((r) => [r.loss, r]));
  const claims: Array<[string, string, string]> = [
    ['arcface', 'softmax', 'margin losses beat plain softmax'],
    ['cosface', 'softmax', 'margin losses beat plain softmax'],
    ['sphereface', 'softmax', 'margin losses beat plain softmax'],
    ['arcface', 'normface', 'margin losses beat normalized softmax'],
    ['cosface', 'normface', 'margin losses beat normalized softmax'],
    ['arcface', 'cosface', 'ArcFace (m = 0.5) is best or tied'],
    ['arcface', 'sphereface', 'ArcFace (m = 0.5) is best or tied'],
    ['curricularface', 'arcface', 'CurricularFace improves on ArcFace (its own paper)'],
  ];
  const rows = claims
    .filter(([a, b]) => m.has(a) && m.has(b))
    .map(([a, b, claim]) => {
      const ra = m.get(a)!;
      const rb = m.get(b)!;
      const cmp = (k: string) => {
        const x = ra.mean[k];
        const y = rb.mean[k];
        if (x === null || y === null) return 'n/a';
        const tie = Math.abs(x - y) <= Math.max(ra.std[k] ?? 0, rb.std[k] ?? 0);
        return `${pct(x)} vs ${pct(y)}: ${tie ? 'within one std (tie)' : x > y ? 'agrees' : 'disagrees'}`;
      };
      return `| ${a} > ${b} | ${claim} | ${cmp('tar1e4')} | ${cmp('rank1')} |`;
    });
  return [
    "| pair | the papers' claim (ArcFace paper, CASIA-WebFace, ResNet50) | TAR@1e-4 here | rank-1 here |",
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Losses ranked per seed (best first) by a metric, and whether every seed gives the same ranking. */
export function orderingSection(results: BenchmarkRun[], losses: string[]): string {
  const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
  const lines: string[] = ['| metric | seed | ranking, best first |', '|---|---|---|'];
  const verdicts: string[] = [];
  for (const [k, label] of [
    ['tar1e4', 'TAR@1e-4'],
    ['rank1', 'rank-1'],
  ] as const) {
    const rankings: string[] = [];
    for (const seed of seeds) {
      const rs = losses
        .map((l) => results.find((r) => r.loss === l && r.seed === seed))
        .filter((r): r is BenchmarkRun => !!r && r[k] !== null);
      const ranking = rs
        .slice()
        .sort((a, b) => (b[k] as number) - (a[k] as number))
        .map((r) => r.loss)
        .join(' > ');
      rankings.push(ranking);
      lines.push(`| ${label} | ${seed} | ${ranking} |`);
    }
    const same = rankings.length > 1 && rankings.every((r) => r === rankings[0]);
    // Pairwise: which "a beats b" hold in every seed, and which flip.
    const held: string[] = [];
    const flipped: string[] = [];
    for (let i = 0; i < losses.length; i++) {
      for (let j = i + 1; j < losses.length; j++) {
        const signs = seeds
          .map((seed) => {
            const a = results.find((r) => r.loss === losses[i] && r.seed === seed)?.[k];
            const b = results.find((r) => r.loss === losses[j] && r.seed === seed)?.[k];
            return typeof a === 'number' && typeof b === 'number' ? Math.sign(a - b) : NaN;
          })
          .filter((x) => !Number.isNaN(x));
        if (signs.length < 2) continue;
        if (signs.every((x) => x > 0)) held.push(`${losses[i]} > ${losses[j]}`);
        else if (signs.every((x) => x < 0)) held.push(`${losses[j]} > ${losses[i]}`);
        else flipped.push(`${losses[i]} / ${losses[j]}`);
      }
    }
    verdicts.push(
      `${label}: ${rankings.length < 2 ? 'one seed only' : same ? 'the same ranking for every seed' : 'the full ranking changes between seeds'}` +
        (held.length + flipped.length > 0
          ? `. Pairs that hold in every seed: ${held.join(', ') || 'none'}. Pairs that flip: ${flipped.join(', ') || 'none'}`
          : ''),
    );
  }
  return `${lines.join('\n')}\n\n${verdicts.map((v) => `- ${v}.`).join('\n')}`;
}

/** The shared budget flags: seeds, backbone, dimension, epochs, steps, batch, identities. */
function budgetFlags(v: Record<string, string | boolean | undefined>, quickEpochs: number, quickSteps: number) {
  const seeds = (v.seeds !== undefined ? list('seeds', String(v.seeds)) : QUICK ? ['1'] : ['1', '2', '3']).map((s) => {
    if (!/^\d+$/.test(s)) throw new UsageError(`--seeds: ${JSON.stringify(s)} is not a non-negative integer`);
    return Number(s);
  });
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds ${v.seeds}: a seed is repeated`);
  const backbone = String(v.backbone);
  if (!(BACKBONES as readonly string[]).includes(backbone))
    throw new UsageError(`--backbone ${JSON.stringify(backbone)}: expected one of ${BACKBONES.join(', ')}`);
  return {
    seeds,
    identities: num(v, 'identities', { int: true, min: 10 }) ?? (QUICK ? 200 : undefined),
    seenFraction: BENCHMARK_BUDGET_DEFAULTS.seenFraction,
    backbone: backbone as BackboneName,
    dim: num(v, 'dim', { int: true, min: 2 })!,
    epochs: num(v, 'epochs', { int: true, min: 1 }) ?? (QUICK ? quickEpochs : 3),
    maxStepsPerEpoch: num(v, 'max-steps', { int: true, min: 1 }) ?? (QUICK ? quickSteps : undefined),
    batch: num(v, 'batch', { int: true, min: 8 })!,
  };
}

/** --identities beyond the glyph set is an error, not a silent cap. */
function checkIdentities(identities: number | undefined, ds: { meta: { syllables: string[] } }): void {
  if (identities !== undefined && identities > ds.meta.syllables.length)
    throw new UsageError(
      `--identities ${identities}: the glyph set has ${ds.meta.syllables.length.toLocaleString('en')} syllables`,
    );
}

/** `--ablation`: the recipe ablation (src/experiments/ablation.ts). */
async function ablationMain(v: Record<string, string | boolean | undefined>, given: Set<string>): Promise<void> {
  for (const flag of ['losses', 'all', 'recipe', 'lr', 'neck-layout', 'budgets'])
    if (given.has(flag))
      throw new UsageError(`--${flag} does not apply with --ablation: each variant sets its own losses and recipe`);
  const dataFlag = given.has('data') ? String(v.data) : 'shipped';
  if (dataFlag !== 'shipped' && dataFlag !== 'full')
    throw new UsageError(`--data ${JSON.stringify(dataFlag)} with --ablation: expected shipped or full`);
  if (dataFlag === 'full' && !fullGlyphSetBuilt())
    throw new UsageError(
      `--data full: the full glyph set is not built in ${fullGlyphDir()}; build it with npm run data:glyphs -- --full in a checkout of margin-lab (it needs the fonts listed in data/hangul-glyphs/README.md)`,
    );
  const variants = v.variants !== undefined ? list('variants', String(v.variants)) : undefined;
  if (variants && new Set(variants).size !== variants.length)
    throw new UsageError(`--variants ${v.variants}: a variant is repeated`);
  for (const id of variants ?? [])
    if (!ABLATION_VARIANTS.some((x) => x.id === id))
      throw new UsageError(
        `--variants: ${JSON.stringify(id)} is not a variant; expected some of ${ABLATION_VARIANTS.map((x) => x.id).join(', ')}`,
      );
  const budget = budgetFlags({ ...v, seeds: v.seeds ?? (QUICK ? undefined : ABLATION_BUDGET.seeds.join(',')) }, 1, 6);
  const base = {
    ...budget,
    ...(QUICK && !given.has('batch') ? { batch: 64 } : {}),
    lr: ABLATION_BUDGET.lr,
    ...(dataFlag === 'full' ? { data: 'full' as const } : {}),
  };
  const out = path.resolve(
    typeof v.out === 'string'
      ? v.out
      : QUICK
        ? path.join('benchmark', 'quick-ablation')
        : path.join('benchmark', 'ablation'),
  );
  checkOutputDir('out', out);
  if (typeof v.docs === 'string') checkOutputFile('docs', path.resolve(v.docs));
  const report = await useBestBackend();
  const ds = loadHangulGlyphs(dataFlag === 'full' ? { dir: fullGlyphDir() } : {});
  checkIdentities(base.identities, ds);
  const started = new Date();
  const { rows, results } = await runAblation({ base, dir: path.join(out, 'runs'), variants, data: ds });
  const table = ablationMarkdown(rows);
  const trainSec = results.reduce((a, r) => a + r.trainSeconds, 0);
  const md = [
    '# Recipe ablation: what makes ArcFace train',
    '',
    `Written by \`npm run benchmark -- --ablation\` on ${started.toISOString().slice(0, 10)}${QUICK ? ' (**quick mode**, MARGIN_LAB_QUICK=1: a pipeline check, not a result)' : ''}.`,
    '',
    `- **Machine**: ${machineLine()}`,
    `- **Backend**: ${report.line}`,
    `- **Data**: ${dataFlag === 'full' ? 'the full glyph set' : 'the shipped subset'} (${ds.meta.syllables.length.toLocaleString('en')} syllables × ${ds.meta.faces.length} faces)${base.identities ? `, first ${base.identities} syllables` : ''}; the benchmark's split (80 % of the syllables seen, a quarter of the faces held out); scored on the unseen syllables in the held-out faces, all pairs.`,
    `- **Budget, the same for every row**: backbone \`${base.backbone}\`, ${base.dim}-D, batch ${base.batch}, ${base.epochs} epoch${base.epochs > 1 ? 's' : ''}${base.maxStepsPerEpoch ? ` of at most ${base.maxStepsPerEpoch} steps` : ''}, seeds ${base.seeds.join(', ')}; each loss at its defaults (ArcFace s = 64, m = 0.5) unless the row says otherwise.`,
    `- **Time**: ${(trainSec / 60).toFixed(1)} min of training over ${results.length} runs.`,
    '',
    'Each row changes one thing against the row it names. Means over seeds.',
    '',
    table,
    '',
  ].join('\n');
  writeFileAtomic(path.join(out, 'ablation.md'), md);
  if (typeof v.docs === 'string') writeFileAtomic(path.resolve(v.docs), md);
  console.log(
    `\n${table}\n\nwrote ${path.join(out, 'ablation.md')}${typeof v.docs === 'string' ? ` and ${path.resolve(v.docs)}` : ''}`,
  );
}

/**
 * What a report needs before its runs: the output folder and --docs checked, the backend chosen,
 * the start time, and the glyph set (with --identities checked against it).
 */
async function startReport(
  v: Record<string, string | boolean | undefined>,
  out: string,
  full: boolean,
  identities: number | undefined,
) {
  const docs = typeof v.docs === 'string' ? path.resolve(v.docs) : undefined;
  checkOutputDir('out', out);
  if (docs) checkOutputFile('docs', docs);
  const report = await useBestBackend();
  const started = new Date();
  const ds = loadHangulGlyphs(full ? { dir: fullGlyphDir() } : {});
  checkIdentities(identities, ds);
  return { docs, report, started, ds };
}

/** --budgets: increasing epochs; --epochs and --twin do not apply. */
function parseBudgets(text: string, given: Set<string>): number[] {
  for (const flag of ['epochs', 'twin', 'ablation'])
    if (given.has(flag))
      throw new UsageError(
        `--${flag} does not apply with --budgets: ${flag === 'epochs' ? 'each budget is its own number of epochs' : flag === 'twin' ? 'the twin runs at the headline budget (npm run benchmark -- --twin --epochs N)' : 'the ablation is a study of its own'}`,
      );
  const out = list('budgets', text).map((b) => {
    if (!/^\d+$/.test(b) || Number(b) < 1)
      throw new UsageError(`--budgets: ${JSON.stringify(b)} is not a whole number of epochs ≥ 1`);
    return Number(b);
  });
  for (let i = 1; i < out.length; i++)
    if (out[i] <= out[i - 1]) throw new UsageError(`--budgets ${text}: the budgets must increase`);
  return out;
}

/** `--budgets`: the budget study (src/experiments/convergence.ts) and its report. */
async function convergenceMain(
  v: Record<string, string | boolean | undefined>,
  config: BenchmarkConfig,
  budgets: number[],
  out: string,
  recipe: string,
  full: boolean,
): Promise<void> {
  const { docs, report, started, ds } = await startReport(v, out, full, config.identities);
  const { rows, results } = await runConvergence({
    base: config,
    budgets,
    dir: path.join(out, 'runs'),
    data: ds,
    finishedOnly: v['finished-only'] === true,
  });
  const want = config.losses.length * config.seeds.length * budgets.length;
  const verdict = settlementVerdict(rows);
  const ranking = (b: number, k: 'tar1e4' | 'rank1') =>
    rows
      .filter((r) => r.epochs === b && r[k] !== null)
      .sort((x, y) => (y[k] as number) - (x[k] as number))
      .map((r) => r.loss)
      .join(' > ');
  const orderRows = budgets.flatMap((b) =>
    (['tar1e4', 'rank1'] as const).map(
      (k) => `| ${b} | ${k === 'tar1e4' ? 'TAR@1e-4' : 'rank-1'} | ${ranking(b, k) || 'no runs yet'} |`,
    ),
  );
  writeFileAtomic(
    path.join(out, 'convergence.csv'),
    [
      'loss,epochs,runs,finalTrainLoss,finalTrainAccuracy,tar1e3,tar1e4,rank1,dir1e2,trainSeconds',
      ...rows.map((r) =>
        [
          r.loss,
          r.epochs,
          r.runs,
          r.finalTrainLoss,
          r.finalTrainAccuracy,
          r.tar1e3,
          r.tar1e4,
          r.rank1,
          r.dir1e2,
          r.trainSeconds,
        ]
          .map((x) => (x === null ? '' : String(x)))
          .join(','),
      ),
    ].join('\n') + '\n',
  );
  saveHtml(convergenceFigures(rows), path.join(out, 'convergence.html'), 'margin-lab budget study');
  const trainSec = results.reduce((a, r) => a + r.trainSeconds, 0);
  const table = convergenceMarkdown(rows);
  const md = [
    '# Budget study: the losses trained to different budgets',
    '',
    `Written by \`npm run benchmark -- --budgets ${budgets.join(',')}\` on ${started.toISOString().slice(0, 10)}${QUICK ? ' (**quick mode**, MARGIN_LAB_QUICK=1: a pipeline check, not a result)' : ''}.`,
    '',
    results.length < want
      ? `**Partial**: ${results.length} of ${want} runs have finished; cells without a run say so, and the verdict below covers the finished ones only. The same command (or a later session) trains the rest and resumes a run where it stopped.`
      : `**Complete**: all ${want} runs have finished.`,
    '',
    `- **Machine**: ${machineLine()}`,
    `- **Backend**: ${report.line}`,
    `- **Data**: ${full ? 'the full glyph set (data/hangul-glyphs-full' : 'the shipped subset (data/hangul-glyphs'}: ${ds.meta.syllables.length.toLocaleString('en')} syllables × ${ds.meta.faces.length} faces)${config.identities ? `, first ${config.identities} syllables` : ''}; the benchmark's split (80 % of the syllables seen, a quarter of the faces held out), scored on the unseen syllables in the held-out faces, all pairs.`,
    `- **Recipe** (\`--recipe ${recipe}\`): ${recipeLine(config)}. Each budget is its own run with its own warm-up and cosine schedule (10 % of that run's steps, then a decay to 0 at its last step); no budget is read off the middle of a longer run.`,
    `- **Budget besides the epochs**: backbone \`${config.backbone}\`, ${config.dim}-D, batch ${config.batch}${config.maxStepsPerEpoch ? `, at most ${config.maxStepsPerEpoch} steps per epoch` : ''}; seeds ${config.seeds.join(', ')}. Each loss at its paper defaults.`,
    `- **Time**: ${(trainSec / 60).toFixed(1)} min of training over ${results.length} runs.`,
    '',
    '## Where it settles',
    '',
    verdict,
    '',
    '## The numbers',
    '',
    `Means over the finished seeds, in %. Training accuracy is the last epoch's batch accuracy on the seen syllables. Figures: \`${path.relative(process.cwd(), path.join(out, 'convergence.html'))}\` (TAR@1e-4, rank-1 and the training loss against the budget on a log-2 axis); per cell: \`${path.relative(process.cwd(), path.join(out, 'convergence.csv'))}\`.`,
    '',
    table,
    '',
    '## The ordering at each budget',
    '',
    '| epochs | metric | ranking, best first |',
    '|---|---|---|',
    ...orderRows,
    '',
  ].join('\n');
  writeFileAtomic(path.join(out, 'convergence.md'), md);
  if (docs) writeFileAtomic(docs, md);
  console.log(`\n${table}\n\n${verdict}\n\nwrote ${path.join(out, 'convergence.md')}${docs ? ` (and ${docs})` : ''}`);
}

async function main(): Promise<void> {
  const given = new Set<string>();
  const v = parseFlags(
    process.argv.slice(2),
    FLAGS,
    `usage: ${commandLine('benchmark', '[flags]')}\nTrains every loss the same way on the seen Hangul syllables and evaluates on unseen ones.\nQuick mode, a pipeline check and not a result: MARGIN_LAB_QUICK=1 ${commandLine('benchmark', '[flags]')} (fewer losses, seeds, epochs, steps and syllables, as the flags below say).`,
    given,
  );
  if (v.ablation) return ablationMain(v, given);
  if (v.python !== undefined && !v.twin) throw new UsageError('--python applies with --twin only');
  if (v.variants !== undefined) throw new UsageError('--variants applies with --ablation only');
  let losses: LossName[] =
    v.losses !== undefined
      ? (list('losses', String(v.losses)) as LossName[])
      : QUICK
        ? QUICK_LOSSES.slice()
        : CORE_LOSSES.slice();
  if (v.all) {
    if (v.losses !== undefined) throw new UsageError('--all and --losses contradict each other; give one');
    losses = [...CORE_LOSSES, ...EXTRA_LOSSES];
  }
  if (new Set(losses).size !== losses.length) throw new UsageError(`--losses ${v.losses}: a loss is repeated`);
  for (const l of losses)
    if (!(LOSS_NAMES as readonly string[]).includes(l))
      throw new UsageError(`--losses: ${JSON.stringify(l)} is not a loss; expected some of ${LOSS_NAMES.join(', ')}`);
  const recipe = String(v.recipe);
  if (!(recipe in BENCHMARK_RECIPES))
    throw new UsageError(
      `--recipe ${JSON.stringify(recipe)}: expected one of ${Object.keys(BENCHMARK_RECIPES).join(', ')}`,
    );
  const dataFlag = String(v.data);
  if (!['auto', 'full', 'shipped'].includes(dataFlag))
    throw new UsageError(`--data ${JSON.stringify(dataFlag)}: expected auto, full or shipped`);
  if (dataFlag === 'full' && !fullGlyphSetBuilt())
    throw new UsageError(
      `--data full: the full glyph set is not built in ${fullGlyphDir()}; build it with npm run data:glyphs -- --full in a checkout of margin-lab (about 2.5 min; it needs the fonts listed in data/hangul-glyphs/README.md)`,
    );
  const full = dataFlag === 'full' || (dataFlag === 'auto' && !QUICK && fullGlyphSetBuilt());
  if (dataFlag === 'auto' && !QUICK && !full)
    console.log(
      `benchmark: the full glyph set is not built (npm run data:glyphs -- --full, about 2.5 min); running on the shipped subset of 1,000 syllables × 40 faces, labelled as such`,
    );
  const budgets = v.budgets === undefined ? undefined : parseBudgets(String(v.budgets), given);
  const budget = budgetFlags({ ...v, seeds: v.seeds ?? (budgets ? '1' : undefined) }, 2, 60);
  const seeds = budget.seeds;
  const recipeConfig = recipeFields(recipe as BenchmarkRecipe, budget.backbone);
  if (v['neck-layout'] !== undefined) {
    const layout = String(v['neck-layout']);
    if (!(NECK_LAYOUTS as readonly string[]).includes(layout))
      throw new UsageError(`--neck-layout ${JSON.stringify(layout)}: expected one of ${NECK_LAYOUTS.join(', ')}`);
    if (recipeConfig.neckLayout === undefined)
      throw new UsageError(
        `--neck-layout applies to the reference backbone with the face recipe (which has the neck), not --backbone ${budget.backbone} --recipe ${recipe}`,
      );
    // Left out, the layout is relu-bn: the configuration key of the runs made before the option.
    if (layout === 'relu-bn') delete recipeConfig.neckLayout;
    else recipeConfig.neckLayout = layout as NeckLayout;
  }
  const config: BenchmarkConfig = {
    losses,
    ...budget,
    ...recipeConfig,
    ...(v.lr !== undefined ? { lr: num(v, 'lr', { min: 1e-9 })! } : {}),
    ...(full ? { data: 'full' as const } : {}),
  } as BenchmarkConfig;
  const out = path.resolve(
    typeof v.out === 'string'
      ? v.out
      : budgets
        ? path.join('benchmark', QUICK ? 'quick-convergence' : recipe === 'adam' ? 'convergence-adam' : 'convergence')
        : QUICK
          ? path.join('benchmark', 'quick')
          : recipe === 'adam'
            ? path.join('benchmark', 'adam')
            : 'benchmark',
  );
  if (budgets) return convergenceMain(v, config, budgets, out, recipe, full);
  const docs = path.join(out, 'benchmark.md');
  const { docs: extraDocs, report, started, ds } = await startReport(v, out, full, config.identities);
  const dataLine = `${full ? 'the full glyph set (data/hangul-glyphs-full' : 'the shipped subset (data/hangul-glyphs'}: ${ds.meta.syllables.length.toLocaleString('en')} syllables × ${ds.meta.faces.length} faces)`;
  const results = await runOpenSetBenchmark({
    config,
    dir: path.join(out, 'runs'),
    data: ds,
    finishedOnly: v['finished-only'] === true,
  });
  if (results.length === 0) throw new UsageError(`no finished runs of this configuration in ${path.join(out, 'runs')}`);
  const sum = summarize(results, losses);
  const table = summaryMarkdown(sum);
  let twinSection: string[] = [];
  if (v.twin) {
    const twin = runTwin({
      config,
      split: benchmarkSplit(ds, config),
      out,
      python: typeof v.python === 'string' ? v.python : undefined,
      finishedOnly: v['finished-only'] === true,
    });
    const cmp = compareTwin(results, twin, losses);
    const t = twin[0];
    twinSection = [
      '## margin-lab against its PyTorch twin',
      '',
      `Each run trained again by \`bench/torch_twin.py\` (PyTorch ${t?.torchVersion ?? '?'}, ${t?.threads ?? '?'} threads, CPU) from margin-lab's initial weights, with the same batches and learning rates, and scored by the same code. Means over the seeds both have (the table's seeds column; ${twin.length} twin runs of ${results.length}); the acceptance check is ${TWIN_TOLERANCE.tar1e4} points at TAR@1e-4 and ${TWIN_TOLERANCE.rank1} at rank-1.`,
      '',
      twinMarkdown(cmp),
      '',
    ];
    console.log(`\n${twinMarkdown(cmp)}`);
  }
  writeFileAtomic(
    path.join(out, 'results.csv'),
    resultsCsv(results.slice().sort((a, b) => losses.indexOf(a.loss) - losses.indexOf(b.loss) || a.seed - b.seed)),
  );
  saveHtml(
    [benchmarkBars(sum), benchmarkRocs(results, losses)],
    path.join(out, 'figures.html'),
    'margin-lab open-set benchmark',
  );
  const trainSec = results.reduce((a, r) => a + r.trainSeconds, 0);
  const first = results[0] as BenchmarkRun | undefined;
  const md = [
    '# Open-set benchmark: the losses on unseen Hangul syllables',
    '',
    `Written by \`npm run benchmark\` on ${started.toISOString().slice(0, 10)}${QUICK ? ' (**quick mode**, MARGIN_LAB_QUICK=1: a pipeline check, not a result)' : ''}.`,
    '',
    ...(results.length < losses.length * seeds.length
      ? [
          `**In progress**: ${results.length} of ${losses.length * seeds.length} runs have finished; the table and rankings below cover those only.`,
          '',
        ]
      : []),
    `- **Machine**: ${machineLine()}`,
    `- **Backend**: ${report.line}`,
    `- **Data**: ${dataLine}${config.identities ? `, first ${config.identities} syllables` : ''}; identities split once (seed 0): 80 % seen, 20 % unseen; a quarter of the faces held out. Training: seen syllables in the other faces. Test: unseen syllables in the held-out faces` +
      (first
        ? ` (${first.genuinePairs.toLocaleString('en')} genuine and ${first.impostorPairs.toLocaleString('en')} impostor pairs, all of them, exact ROC).`
        : '.'),
    `- **Recipe** (\`--recipe ${recipe}\`): ${recipeLine(config)}.`,
    `- **Budget, the same for every loss**: backbone \`${config.backbone}\`, ${config.dim}-D embeddings, batch ${config.batch}, ${config.epochs} epochs${config.maxStepsPerEpoch ? ` of at most ${config.maxStepsPerEpoch} steps` : ''}; seeds ${seeds.join(', ')} (weights and batch order). Each loss at its paper defaults (the library's defaults).`,
    `- **Time**: ${(trainSec / 60).toFixed(1)} min of training over ${results.length} runs (configuration ${configKey(config)}).`,
    '',
    'Mean ± std over seeds, in %. TAR@FAR from the exact ROC over all pairs; 10-fold accuracy on 10 × (k + k) pairs (k = 300, fewer for small sets; see results.csv); rank-1 against one gallery image per syllable; DIR@1e-2 with half of the unseen syllables enrolled.',
    '',
    table,
    '',
    '## Is the ordering stable across seeds?',
    '',
    orderingSection(results, losses),
    '',
    ...twinSection,
    '## Beside the ArcFace paper',
    '',
    'The ArcFace paper compares the losses on CASIA-WebFace with a ResNet50 and finds the margin losses ahead of softmax and normalized softmax, and ArcFace (m = 0.5) best or tied. The pairs below set that ordering beside this benchmark\'s means. Only the ordering is compared: numbers do not transfer between a face data set and 32×32 glyphs. "Tie" means the difference is within one standard deviation over seeds.',
    '',
    anchorSection(sum),
    '',
    `Figures: \`${path.relative(process.cwd(), path.join(out, 'figures.html'))}\` (bars with error bars for TAR@1e-4 and rank-1, ROC curves on log FAR). Per-run numbers: \`${path.relative(process.cwd(), path.join(out, 'results.csv'))}\`.`,
    '',
  ].join('\n');
  writeFileAtomic(docs, md);
  if (extraDocs) writeFileAtomic(extraDocs, md);
  console.log(
    `\n${table}\n\nwrote ${path.join(out, 'results.csv')}, ${path.join(out, 'figures.html')} and ${docs}${extraDocs ? ` (and ${extraDocs})` : ''}`,
  );
}

runMain(main);
