/**
 * The learning-rate schedule: its options (declared in ./options, SCHEDULE_OPTIONS), their check,
 * and the rate at each step (constant, step or cosine decay, after a linear warm-up).
 */
import { SCHEDULE_OPTIONS, SCHEDULE_TYPES } from './options';
import { checkDeclared, OptionDecl } from '../util/option-decl';

export interface ScheduleOptions {
  type: (typeof SCHEDULE_TYPES)[number];
  /** Linear warm-up from lr/steps to lr over this many steps (default 0). */
  warmupSteps?: number;
  /** 'step': multiply by gamma every stepEpochs epochs. */
  stepEpochs?: number;
  gamma?: number;
  /** 'cosine': final lr as a fraction of lr (default 0). */
  minFactor?: number;
}

/** Learning rate at a step (0-based) of a run of totalSteps, stepsPerEpoch steps each epoch. */
export function learningRateAt(
  lr: number,
  s: ScheduleOptions,
  step: number,
  stepsPerEpoch: number,
  totalSteps: number,
): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (lr * (step + 1)) / warm;
  if (s.type === 'step') {
    const epoch = Math.floor(step / stepsPerEpoch);
    return lr * Math.pow(s.gamma ?? 0.1, Math.floor(epoch / (s.stepEpochs ?? 10)));
  }
  if (s.type === 'cosine') {
    const progress = (step - warm) / Math.max(1, totalSteps - warm);
    const min = (s.minFactor ?? 0) * lr;
    return min + 0.5 * (lr - min) * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  }
  return lr;
}

/** A schedule's fields against their declarations (src/train/options.ts); unknown fields are errors. */
export function checkSchedule(s: ScheduleOptions | undefined): void {
  if (s === undefined) return;
  const fields = s as unknown as Record<string, unknown>;
  const extra = Object.keys(s).filter((k) => !(k in SCHEDULE_OPTIONS));
  if (extra.length)
    throw new Error(
      `train: schedule has no option ${extra.join(', ')}; it takes ${Object.keys(SCHEDULE_OPTIONS).join(', ')}`,
    );
  for (const [key, decl] of Object.entries(SCHEDULE_OPTIONS) as Array<[string, OptionDecl]>)
    if (fields[key] !== undefined || decl.checkpoint === 'required')
      checkDeclared('train: schedule ', key, decl, fields[key]);
}
