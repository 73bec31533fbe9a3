/**
 * The loss table: one entry per loss, the single place that knows each loss's id, factory, kind,
 * options (types, ranges, what they mean) and the statistics it reports during training. The
 * command line's flags, `--help` and validation, the trainer's per-epoch statistics, checkpoints
 * (which store `config()` and rebuild from it) and `createLoss` are all generated from it.
 *
 * Adding a loss: its file, one entry here, and its test.
 */
import { EmbeddingLoss } from './head';
import { softmaxLoss, SoftmaxLoss } from './softmax';
import { normFace, NormFace } from './normface';
import { sphereFace, SphereFace, SPHEREFACE_MAX_M } from './sphereface';
import { cosFace, CosFace } from './cosface';
import { arcFace, ArcFace } from './arcface';
import { combinedMargin, CombinedMargin } from './combined';
import { curricularFace, CurricularFace } from './curricularface';
import { subCenterArcFace, SubCenterArcFace, SUBCENTER_MAX_K } from './subcenter-arcface';
import { adaFace, AdaFace } from './adaface';
import { contrastiveLoss, ContrastiveLoss } from './contrastive';
import { tripletLoss, TripletLoss } from './triplet';
import { miners } from './miners';
import { softmaxCenterLoss, SoftmaxCenterLoss } from './center';

/** How a loss consumes a batch: a classifier head (class weights), a pair loss (P×K batches), or a head with class centres. */
export type LossKind = 'head' | 'pair' | 'head+centres';

export interface LossOption {
  type: 'number' | 'integer' | 'boolean' | 'enum';
  help: string;
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

export interface LossEntry {
  id: string;
  kind: LossKind;
  summary: string;
  /** The loss's class (exact constructor), to find the entry of a loss object. */
  cls: abstract new (...args: never[]) => EmbeddingLoss;
  factory: (opts: Record<string, unknown>) => EmbeddingLoss;
  /** Hyperparameters, keyed as the command-line flag (kebab-case where it has two words). */
  options: Record<string, LossOption>;
}

const s = (dflt: number): LossOption => ({
  type: 'number',
  min: 0,
  exclusiveMin: true,
  help: `scale s (default ${dflt})`,
});
const angular = (dflt: number): LossOption => ({
  type: 'number',
  min: 0,
  max: Math.PI / 2,
  exclusiveMax: true,
  help: `additive angular margin m in radians (default ${dflt})`,
});

const marginWarmup: LossOption = {
  type: 'integer',
  min: 1,
  path: ['marginWarmup', 'steps'],
  help: 'ramp the margin linearly from 0 to its value over this many steps (default: off)',
};

/** The fraction of the margin in use, for heads with a margin warm-up (nothing otherwise). */
const entries = [
  {
    id: 'softmax',
    kind: 'head',
    cls: SoftmaxLoss,
    factory: softmaxLoss,
    summary: 'linear classifier with bias + cross-entropy',
    options: {},
  },
  {
    id: 'normface',
    kind: 'head',
    cls: NormFace,
    factory: normFace,
    summary: 's·cos θ_j for every class (normalized softmax)',
    options: { s: s(16) },
  },
  {
    id: 'sphereface',
    kind: 'head',
    cls: SphereFace,
    factory: sphereFace,
    summary: 'A-Softmax: ψ(θ_y) = (−1)^k cos(mθ_y) − 2k, annealed by λ',
    options: {
      m: { type: 'integer', min: 1, max: SPHEREFACE_MAX_M, help: 'multiplicative angular margin m (default 4)' },
      s: { type: 'number', min: 0, exclusiveMin: true, help: 'scale when --normalized (default 30)' },
      normalized: { type: 'boolean', help: 'use s instead of the feature norm' },
      lambda: { type: 'number', min: 0, help: 'a fixed λ instead of the annealing schedule' },
      'lambda-base': { type: 'number', min: 0, path: ['schedule', 'base'], help: 'λ schedule: start (default 1000)' },
      'lambda-gamma': { type: 'number', min: 0, path: ['schedule', 'gamma'], help: 'λ schedule: γ (default 0.12)' },
      'lambda-power': { type: 'number', min: 0, path: ['schedule', 'power'], help: 'λ schedule: power (default 1)' },
      'lambda-min': { type: 'number', min: 0, path: ['schedule', 'lambdaMin'], help: 'λ schedule: floor (default 5)' },
    },
  },
  {
    id: 'cosface',
    kind: 'head',
    cls: CosFace,
    factory: cosFace,
    summary: 's·(cos θ_y − m)',
    options: {
      s: s(64),
      m: { type: 'number', min: 0, max: 2, exclusiveMax: true, help: 'additive cosine margin m (default 0.35)' },
      'margin-warmup': marginWarmup,
    },
  },
  {
    id: 'arcface',
    kind: 'head',
    cls: ArcFace,
    factory: arcFace,
    summary: 's·cos(θ_y + m)',
    options: {
      s: s(64),
      m: angular(0.5),
      'easy-margin': { type: 'boolean', path: ['easyMargin'], help: 'margin only where θ_y < π/2' },
      'margin-warmup': marginWarmup,
    },
  },
  {
    id: 'combined',
    kind: 'head',
    cls: CombinedMargin,
    factory: combinedMargin,
    summary: 's·(cos(m1·θ_y + m2) − m3)',
    options: {
      s: s(64),
      m1: { type: 'number', min: 0, exclusiveMin: true, help: 'multiplicative angular margin m1 (default 1)' },
      m2: angular(0.3),
      m3: { type: 'number', min: 0, max: 2, help: 'additive cosine margin m3 (default 0.2)' },
      'margin-warmup': marginWarmup,
    },
  },
  {
    id: 'curricularface',
    kind: 'head',
    cls: CurricularFace,
    factory: curricularFace,
    summary: 'ArcFace target; hard negatives scaled by (t + cos θ_j)',
    options: {
      s: s(64),
      m: angular(0.5),
      alpha: { type: 'number', min: 0, max: 1, help: 'momentum of t: t ← α·mean cos θ_y + (1 − α)·t (default 0.01)' },
      'margin-warmup': marginWarmup,
    },
  },
  {
    id: 'subcenter-arcface',
    kind: 'head',
    cls: SubCenterArcFace,
    factory: subCenterArcFace,
    summary: 'ArcFace over the nearest of K sub-centers per class',
    options: {
      s: s(64),
      m: angular(0.5),
      'easy-margin': { type: 'boolean', path: ['easyMargin'], help: 'margin only where θ_y < π/2' },
      K: { type: 'integer', min: 1, max: SUBCENTER_MAX_K, help: 'sub-centers per class (default 3)' },
      'margin-warmup': marginWarmup,
    },
  },
  {
    id: 'adaface',
    kind: 'head',
    cls: AdaFace,
    factory: adaFace,
    summary: 'margin adapted to the feature norm (image quality)',
    options: {
      s: s(64),
      m: { type: 'number', min: 0, max: Math.PI / 2, exclusiveMax: true, help: 'margin m (default 0.4)' },
      h: {
        type: 'number',
        min: 0,
        exclusiveMin: true,
        max: 1,
        help: 'concentration h of the norm score (default 0.333)',
      },
      alpha: { type: 'number', min: 0, max: 1, help: 'momentum of the running norm statistics (default 0.01)' },
    },
  },
  {
    id: 'contrastive',
    kind: 'pair',
    cls: ContrastiveLoss,
    factory: contrastiveLoss,
    summary: 'pulls genuine pairs together, pushes impostors beyond a margin',
    options: {
      margin: { type: 'number', min: 0, exclusiveMin: true, help: 'margin (default 1 for euclidean)' },
      distance: { type: 'enum', values: ['euclidean', 'cosine'], help: 'pair distance' },
      normalize: { type: 'boolean', help: 'L2-normalize embeddings first' },
    },
  },
  {
    id: 'triplet',
    kind: 'pair',
    cls: TripletLoss,
    factory: tripletLoss,
    summary: 'max(0, d(a,p) − d(a,n) + margin) over mined triplets',
    options: {
      margin: { type: 'number', min: 0, exclusiveMin: true, help: 'margin α (default 0.2)' },
      miner: { type: 'enum', values: Object.keys(miners), help: 'triplet miner (default semiHard)' },
      reduction: {
        type: 'enum',
        values: ['mean-active', 'mean'],
        help: 'average over active triplets or all mined ones',
      },
    },
  },
  {
    id: 'softmax+center',
    kind: 'head+centres',
    cls: SoftmaxCenterLoss,
    factory: softmaxCenterLoss,
    summary: 'softmax + λ·½‖x − c_y‖² (Wen et al.)',
    options: {
      lambda: { type: 'number', min: 0, help: 'weight λ of the center term (default 0.01)' },
      alpha: { type: 'number', min: 0, max: 1, help: 'center update rate α (default 0.5)' },
    },
  },
] as const;

export const LOSS_TABLE: readonly LossEntry[] = entries as unknown as readonly LossEntry[];

export const LOSS_NAMES = entries.map((e) => e.id) as unknown as readonly (typeof entries)[number]['id'][];
export type LossName = (typeof entries)[number]['id'];

/** Losses that need P×K batches (positives inside every batch) rather than shuffled ones. */
export const PAIR_LOSSES: readonly LossName[] = LOSS_TABLE.filter((e) => e.kind === 'pair').map(
  (e) => e.id as LossName,
);

/** The table entry of a loss id; unknown ids throw, listing the valid ones. */
export function lossEntry(id: string): LossEntry {
  const e = LOSS_TABLE.find((x) => x.id === id);
  if (!e) throw new Error(`unknown loss ${JSON.stringify(id)}; expected one of ${LOSS_NAMES.join(', ')}`);
  return e;
}

/** The table entry of a loss object (by its exact class), or undefined for a loss not in the table. */
export function entryOf(loss: EmbeddingLoss): LossEntry | undefined {
  return LOSS_TABLE.find((e) => loss.constructor === e.cls);
}

/** The statistics a loss reports (`loss.stats()`; empty for losses without any). */
export function lossStats(loss: EmbeddingLoss): Record<string, number> {
  return loss.stats?.() ?? {};
}

/** The losses that take an option, for error messages. */
export function lossesWithOption(key: string): string[] {
  return LOSS_TABLE.filter((e) => key in e.options).map((e) => e.id);
}

/** Keys every classifier head takes besides its options, and keys a stored config() carries. */
const STRUCTURAL = ['numClasses', 'embeddingDim', 'seed', 'weights', 'init', 'loss', 'bias', 'centers'];

export interface LossParams {
  numClasses: number;
  embeddingDim: number;
  seed?: number;
  /** Any hyperparameter of the chosen loss, named as in its options (s, m, m1, K, margin, miner, ...). */
  [key: string]: unknown;
}

/** The option keys of a loss as its factory names them (camelCase, nested ones by their first key). */
function factoryKeys(e: LossEntry): Set<string> {
  const out = new Set<string>();
  for (const [k, o] of Object.entries(e.options)) out.add((o.path ?? [k])[0]);
  return out;
}

/**
 * Builds a loss by id. Unknown ids and unknown option keys throw, naming the losses that do take
 * the key ("m is not an option of softmax; losses with m: cosface, arcface, ..."). A stored
 * `config()` (with its `loss` key and state such as SphereFace's schedule) is accepted too.
 */
export function createLoss(name: string, params: LossParams): EmbeddingLoss {
  const e = lossEntry(name);
  const allowed = factoryKeys(e);
  for (const key of Object.keys(params)) {
    if (STRUCTURAL.includes(key) || allowed.has(key) || params[key] === undefined) continue;
    // The flag that sets a nested or renamed key (easyMargin → easy-margin), for the message.
    const cli = LOSS_TABLE.flatMap((x) => Object.entries(x.options)).find(([, o]) => o.path?.[0] === key)?.[0] ?? key;
    const takers = LOSS_TABLE.filter((x) => factoryKeys(x).has(key)).map((x) => x.id);
    throw new Error(
      `${key} is not an option of ${name}; ${takers.length ? `losses with ${cli}: ${takers.join(', ')}` : `${name} takes: ${[...allowed].join(', ') || 'no options'}`}`,
    );
  }
  if (params.loss !== undefined && params.loss !== name)
    throw new Error(`createLoss(${JSON.stringify(name)}): the options say loss ${JSON.stringify(params.loss)}`);
  const { loss: _drop, ...rest } = params;
  void _drop;
  // Callers pass the classifier's shape for every loss; a pair loss has no classifier.
  if (e.kind === 'pair') for (const k of ['numClasses', 'embeddingDim', 'seed'] as const) delete rest[k];
  return e.factory(rest);
}

/**
 * Turns command-line option values (strings, keyed by flag) into factory options for a loss,
 * checking types, ranges and enum values. Flags that the loss does not take are errors naming
 * the losses that do.
 */
export function lossOptionsFromFlags(id: string, flags: Record<string, string | boolean>): Record<string, unknown> {
  const e = lossEntry(id);
  const out: Record<string, unknown> = {};
  for (const [flag, raw] of Object.entries(flags)) {
    const o = e.options[flag];
    if (!o) {
      const takers = lossesWithOption(flag);
      throw new Error(
        `--${flag} is not an option of ${id}; ${takers.length ? `losses with ${flag}: ${takers.join(', ')}` : 'no loss takes it'}`,
      );
    }
    let v: unknown;
    if (o.type === 'boolean') {
      if (typeof raw === 'boolean') v = raw;
      else if (raw === 'true' || raw === 'false') v = raw === 'true';
      else throw new Error(`--${flag} ${JSON.stringify(raw)}: expected true or false`);
    } else if (o.type === 'enum') {
      if (!o.values!.includes(String(raw)))
        throw new Error(`--${flag} ${JSON.stringify(raw)}: expected one of ${o.values!.join(', ')}`);
      v = String(raw);
    } else {
      const n = Number(raw);
      const okInt = o.type !== 'integer' || Number.isInteger(n);
      if (
        typeof raw === 'boolean' ||
        String(raw).trim() === '' ||
        !Number.isFinite(n) ||
        !okInt ||
        (o.min !== undefined && (o.exclusiveMin ? n <= o.min : n < o.min)) ||
        (o.max !== undefined && (o.exclusiveMax ? n >= o.max : n > o.max))
      ) {
        const lo = o.min === undefined ? '' : `${o.min}${o.exclusiveMin ? ' (exclusive)' : ''}`;
        const hi = o.max === undefined ? '' : `${+o.max.toFixed(4)}${o.exclusiveMax ? ' (exclusive)' : ''}`;
        const range =
          o.min !== undefined && o.max !== undefined
            ? ` from ${lo} to ${hi}`
            : o.min !== undefined
              ? o.exclusiveMin
                ? ` > ${o.min}`
                : ` ≥ ${o.min}`
              : '';
        throw new Error(
          `--${flag} ${JSON.stringify(raw)}: ${id} expects ${o.type === 'integer' ? 'an integer' : 'a number'}${range}`,
        );
      }
      v = n;
    }
    const p = o.path ?? [flag];
    let target = out;
    for (const k of p.slice(0, -1)) target = (target[k] ??= {}) as Record<string, unknown>;
    target[p[p.length - 1]] = v;
  }
  return out;
}

/** Help for flags that several losses share with different meanings or defaults. */
const SHARED_HELP: Record<string, string> = {
  s: 'scale s (defaults: 64; normface 16; sphereface 30 with --normalized)',
  m: 'margin m (cosface: cosine margin, default 0.35; arcface, curricularface, subcenter-arcface: angle in radians, 0.5; adaface 0.4; sphereface: integer multiplier, 4)',
  alpha:
    'update rate α of a running statistic (curricularface t, adaface norms: 0.01) or of the centres (softmax+center: 0.5)',
  lambda: 'λ: sphereface: a fixed λ instead of the schedule; softmax+center: weight of the center term (default 0.01)',
  margin: 'margin of the pair loss (contrastive: default 1; triplet: α, default 0.2)',
};

/** Every flag any loss takes, with the losses that take it (for --help). */
export function lossFlagHelp(): Array<{ flag: string; type: LossOption['type']; help: string; losses: string[] }> {
  const seen = new Map<string, { flag: string; type: LossOption['type']; help: string; losses: string[] }>();
  for (const e of LOSS_TABLE) {
    for (const [flag, o] of Object.entries(e.options)) {
      const row = seen.get(flag) ?? {
        flag,
        type: o.type,
        help: o.help + (o.values ? ` (${o.values.join(', ')})` : ''),
        losses: [],
      };
      row.losses.push(e.id);
      if (row.losses.length > 1 && SHARED_HELP[flag]) row.help = SHARED_HELP[flag];
      seen.set(flag, row);
    }
  }
  return [...seen.values()];
}
