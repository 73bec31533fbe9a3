/**
 * SphereFace / A-Softmax (Liu et al., CVPR 2017) — a multiplicative angular margin.
 *
 * Weights are normalized, features are not: logit_j = ‖x‖·cos θ_j, and the target logit is
 * ‖x‖·ψ(θ_y) with ψ(θ) = (−1)^k cos(mθ) − 2k on [kπ/m, (k+1)π/m] (integer m, 4 in the paper).
 * Training from scratch with the full margin does not converge, so the paper anneals:
 * target = ‖x‖·(λ·cos θ_y + ψ(θ_y)) / (1 + λ), λ decaying from ~1000 to a floor (5). The trainer
 * calls `step()` once per iteration to advance λ.
 *
 * `normalized: true` gives the variant of later work: features normalized too, fixed scale s.
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions } from './head';
import { sphereTarget } from './margin';
import { rowNorms } from './ops';
import { checkNonNegative, LossInputError, checkOptionKeys, optionKeys } from './validate';
import { defineLoss, scaleOption, resolveOptions, specConfig, LossSpec } from './spec';

export interface LambdaScheduleOptions {
  /** λ at iteration 0 (paper code: 1000). */
  base?: number;
  /** Decay rate (paper code: 0.12). */
  gamma?: number;
  /** Decay exponent (paper code: 1). */
  power?: number;
  /** Floor of λ (paper: 5; 0 = full margin eventually). */
  lambdaMin?: number;
  /** The iteration to start from (default 0): a restored run's schedule goes on where it stopped. */
  iteration?: number;
}

/** λ(it) = max(λ_min, base·(1 + γ·it)^(−power)), the SphereFace annealing schedule. */
export class LambdaSchedule {
  readonly base: number;
  readonly gamma: number;
  readonly power: number;
  readonly lambdaMin: number;
  iteration = 0;

  constructor(opts: LambdaScheduleOptions = {}) {
    this.base = opts.base ?? 1000;
    this.gamma = opts.gamma ?? 0.12;
    this.power = opts.power ?? 1;
    this.lambdaMin = opts.lambdaMin ?? 5;
    checkNonNegative('LambdaSchedule', 'base', this.base);
    checkNonNegative('LambdaSchedule', 'gamma', this.gamma);
    checkNonNegative('LambdaSchedule', 'power', this.power);
    checkNonNegative('LambdaSchedule', 'lambdaMin', this.lambdaMin);
    if (opts.iteration !== undefined) {
      checkNonNegative('LambdaSchedule', 'iteration', opts.iteration);
      if (!Number.isInteger(opts.iteration))
        throw new LossInputError(`LambdaSchedule: iteration must be a whole number of steps, got ${opts.iteration}`);
      this.iteration = opts.iteration;
    }
  }

  /** λ at a given iteration. */
  at(iteration: number): number {
    return Math.max(this.lambdaMin, this.base * Math.pow(1 + this.gamma * iteration, -this.power));
  }

  /** λ now. */
  get value(): number {
    return this.at(this.iteration);
  }

  step(): void {
    this.iteration += 1;
  }
}

/** The largest multiplicative margin sphereFace takes (the command line's bound too). */
export const SPHEREFACE_MAX_M = 8;

export interface SphereFaceOptions extends HeadOptions {
  /** Integer angular multiplier m ≥ 1 (paper: 4). */
  m?: number;
  /** λ annealing; pass `{ base: 0, lambdaMin: 0 }` (or `lambda: 0`) for the pure ψ target. */
  schedule?: LambdaScheduleOptions;
  /** A fixed λ instead of a schedule. */
  lambda?: number;
  /** Normalize features too and scale by s instead of ‖x‖ (default false = the paper). */
  normalized?: boolean;
  /** Scale s for the normalized variant (default 30). */
  s?: number;
}

export class SphereFace extends CosineHead {
  readonly name = 'sphereface';
  readonly spec: LossSpec = SPHEREFACE_SPEC;
  readonly m: number;
  readonly normalized: boolean;
  readonly s: number;
  readonly schedule: LambdaSchedule;

  constructor(opts: SphereFaceOptions) {
    const o = resolveOptions(SPHEREFACE_SPEC, opts);
    const id = SPHEREFACE_SPEC.id;
    if (opts.s !== undefined && !o.normalized)
      throw new LossInputError(
        `${id}: s ${opts.s} applies with normalized: true only; without it the logits are scaled by the feature norm ‖x‖ (on the command line: --normalized)`,
      );
    if (o.lambda !== undefined && o.schedule !== undefined)
      throw new LossInputError(
        `${id}: give lambda (a fixed λ) or schedule (an annealed one), not both (on the command line: --lambda or the --lambda-* flags)`,
      );
    if (o.schedule !== undefined) checkOptionKeys(`${id} schedule`, o.schedule, SCHEDULE_OPTIONS);
    super(opts, 1, id);
    this.m = o.m;
    this.normalized = o.normalized;
    this.s = o.s;
    this.schedule =
      o.lambda !== undefined
        ? new LambdaSchedule({ base: o.lambda, gamma: 0, lambdaMin: o.lambda })
        : new LambdaSchedule(o.schedule);
  }

  /** Current λ of the annealed target. */
  get lambda(): number {
    return this.schedule.value;
  }

  override step(): void {
    this.schedule.step();
  }

  override loadConfigState(config: Record<string, unknown>): void {
    const it = (config.schedule as { iteration?: unknown } | undefined)?.iteration;
    if (typeof it === 'number' && Number.isInteger(it) && it >= 0) this.schedule.iteration = it;
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    const lambda = this.lambda;
    const psi = sphereTarget(cosY, this.m);
    if (lambda === 0) return psi as tf.Tensor1D;
    return tf.div(tf.add(tf.mul(cosY, lambda), psi), 1 + lambda) as tf.Tensor1D;
  }

  protected override scale(embeddings: tf.Tensor2D): number | tf.Tensor2D {
    if (this.normalized) return this.s;
    return tf.expandDims(rowNorms(embeddings), 1) as tf.Tensor2D;
  }

  override stats(): Record<string, number> {
    return { lambda: this.lambda };
  }

  /** The options, with s only when normalized, and the schedule with its iteration (never the current λ as a fixed one). */
  override config(): Record<string, unknown> {
    const sch = this.schedule;
    const { m, normalized, s } = this;
    return {
      ...specConfig(SPHEREFACE_SPEC, normalized ? { m, normalized, s } : { m, normalized }, this),
      schedule: {
        base: sch.base,
        gamma: sch.gamma,
        power: sch.power,
        lambdaMin: sch.lambdaMin,
        iteration: sch.iteration,
      },
    };
  }
}

/** The keys a λ schedule takes (the compiler checks the list is complete). */
const SCHEDULE_OPTIONS = optionKeys<LambdaScheduleOptions>()('base', 'gamma', 'power', 'lambdaMin', 'iteration');

/**
 * SphereFace (A-Softmax): ‖x‖·(λ cos θ_y + ψ(θ_y))/(1 + λ). Defaults: m = 4, λ from 1000
 * (γ = 0.12, power 1) down to 5; `normalized: true` uses s = 30 instead of ‖x‖.
 */
export function sphereFace(opts: SphereFaceOptions): SphereFace {
  return new SphereFace(opts);
}

/** The sphereface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const SPHEREFACE_SPEC = defineLoss({
  id: 'sphereface',
  kind: 'head',
  cls: SphereFace,
  factory: sphereFace,
  summary: 'A-Softmax: ψ(θ_y) = (−1)^k cos(mθ_y) − 2k, annealed by λ',
  options: {
    m: {
      type: 'integer',
      min: 1,
      max: SPHEREFACE_MAX_M,
      default: 4,
      help: 'multiplicative angular margin m',
      why: 'the paper uses 4',
    },
    s: scaleOption(30, 'scale when --normalized'),
    normalized: { type: 'boolean', default: false, help: 'use s instead of the feature norm' },
    lambda: {
      type: 'number',
      min: 0,
      defaultText: 'none, the schedule runs',
      help: 'a fixed λ instead of the annealing schedule',
    },
    'lambda-base': { type: 'number', min: 0, path: ['schedule', 'base'], default: 1000, help: 'λ schedule: start' },
    'lambda-gamma': { type: 'number', min: 0, path: ['schedule', 'gamma'], default: 0.12, help: 'λ schedule: γ' },
    'lambda-power': { type: 'number', min: 0, path: ['schedule', 'power'], default: 1, help: 'λ schedule: power' },
    'lambda-min': { type: 'number', min: 0, path: ['schedule', 'lambdaMin'], default: 5, help: 'λ schedule: floor' },
  },
});
