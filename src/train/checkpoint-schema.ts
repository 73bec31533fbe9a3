/**
 * The checkpoint schema: every field of a checkpoint.json is checked at load, before any model,
 * loss or optimizer is built, so a hand-edited or damaged file is an error naming the field, the
 * value and what was expected, never a TypeError later or a run that silently trains the wrong
 * thing (`epoch: -3`, `epoch: "1"`).
 */
import { registeredLosses } from '../losses/registry';
import { BACKBONE_OPTIONS } from '../models/options';
import { acceptsValue, expectedText, OptionDecl } from '../util/option-decl';
import { DATA_OPTIONS, SCHEDULE_OPTIONS, TRAIN_OPTIONS } from './options';

/** The most any one tensor may hold, and the largest image side (the backbone's sizes are declared in src/models/options.ts). */
export const CHECKPOINT_LIMITS = { tensorElements: 1 << 28, imageSide: 4096 } as const;

export class CheckpointSchemaError extends Error {
  constructor(file: string, field: string, expected: string, value: unknown) {
    super(`checkpoint ${file}: ${field} must be ${expected}, got ${show(value)}`);
    this.name = 'CheckpointSchemaError';
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (typeof v === 'number') return String(v);
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

type Obj = Record<string, unknown>;

/** A small schema checker bound to one file: each method returns the value, typed, or throws. */
class Fields {
  constructor(private readonly file: string) {}
  fail(field: string, expected: string, value: unknown): never {
    throw new CheckpointSchemaError(this.file, field, expected, value);
  }
  obj(v: unknown, field: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'an object', v);
    return v as Obj;
  }
  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, 'a list', v);
    return v;
  }
  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, 'a string', v);
    return v;
  }
  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, 'true or false', v);
    return v;
  }
  int(v: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(field, `an integer in [${min}, ${max}]`, v);
    return v;
  }
  num(v: unknown, field: string, min: number, max = Infinity): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      this.fail(field, `a number in [${min}, ${max === Infinity ? '∞' : max}]`, v);
    return v;
  }
  oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
    if (!values.includes(v as T)) this.fail(field, `one of ${values.join(', ')}`, v);
    return v as T;
  }
  /**
   * The fields of `o` that have declarations (src/train/options.ts, src/models/options.ts), each
   * against its declaration: a required one must be there, an optional one may be absent.
   */
  declared(o: Obj, decls: Record<string, OptionDecl>, prefix: string): void {
    for (const [key, d] of Object.entries(decls)) {
      if (!d.checkpoint || (o[key] === undefined && d.checkpoint === 'optional')) continue;
      if (!acceptsValue(d, o[key])) this.fail(`${prefix}.${key}`, expectedText(d), o[key]);
    }
  }
  /** Optional fields: absent is fine, `null` is not. */
  opt<T>(o: Obj, key: string, check: (v: unknown, field: string) => T, prefix: string): T | undefined {
    return o[key] === undefined ? undefined : check(o[key], `${prefix}.${key}`);
  }
  /** A tensor: inline base64 (`data`, version 1) or a byte offset into a binary file (version 2). */
  tensor(v: unknown, field: string, dtypes: readonly ('float32' | 'int32')[], version: number): void {
    const t = this.obj(v, field);
    const shape = this.arr(t.shape, `${field}.shape`).map((d, i) =>
      this.int(d, `${field}.shape[${i}]`, 0, CHECKPOINT_LIMITS.tensorElements),
    );
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > CHECKPOINT_LIMITS.tensorElements)
      this.fail(`${field}.shape`, `at most ${CHECKPOINT_LIMITS.tensorElements} elements`, shape);
    this.oneOf(t.dtype, `${field}.dtype`, dtypes);
    if (version >= 2) {
      this.int(t.offset, `${field}.offset`, 0);
      return;
    }
    const data = this.str(t.data, `${field}.data`);
    // base64 of n 4-byte values, without decoding it.
    const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
    const bytes = (data.length / 4) * 3 - padding;
    if (data.length % 4 !== 0 || bytes !== n * 4)
      this.fail(
        `${field}.data`,
        `base64 of ${n * 4} bytes (shape [${shape.join(', ')}], 4 bytes each)`,
        `${data.length} base64 characters`,
      );
  }
}

/** Checks every field of a parsed checkpoint; returns it unchanged. `file` names it in errors. */
export function validateCheckpointFields(raw: unknown, file: string): void {
  const f = new Fields(file);
  const ck = f.obj(raw, 'the file');
  const version = ck.version as number;
  f.str(ck.savedAt, 'savedAt');
  if (version >= 2) {
    // The files a version-2 checkpoint names: only the names its writer makes, inside its folder.
    const files = f.obj(ck.files, 'files');
    if (files.model !== 'model/model.json') f.fail('files.model', '"model/model.json"', files.model);
    if (typeof files.weights !== 'string' || !/^model\/weights-\d+-[0-9a-f]{8}\.bin$/.test(files.weights))
      f.fail('files.weights', 'a file name model/weights-<step>-<8 hex digits>.bin', files.weights);
    if (typeof files.state !== 'string' || !/^state-\d+-[0-9a-f]{8}\.bin$/.test(files.state))
      f.fail('files.state', 'a file name state-<step>-<8 hex digits>.bin', files.state);
    if (files.sha256 !== undefined) {
      const sums = f.obj(files.sha256, 'files.sha256');
      for (const k of ['weights', 'state'])
        if (typeof sums[k] !== 'string' || !/^[0-9a-f]{64}$/.test(sums[k] as string))
          f.fail(`files.sha256.${k}`, 'a SHA-256 in hex (64 digits)', sums[k]);
    }
  }

  const bb = f.obj(ck.backbone, 'backbone');
  const shape = f.arr(bb.inputShape, 'backbone.inputShape');
  if (shape.length !== 3) f.fail('backbone.inputShape', '[height, width, channels]', shape);
  shape.forEach((d, i) => f.int(d, `backbone.inputShape[${i}]`, 1, CHECKPOINT_LIMITS.imageSide));
  f.declared(bb, BACKBONE_OPTIONS, 'backbone');
  const dim = bb.embeddingDim as number;

  const loss = f.obj(ck.loss, 'loss');
  const ids = registeredLosses().map((e) => e.id);
  if (!ids.includes(loss.loss as string))
    f.fail(
      'loss.loss',
      `one of ${ids.join(', ')} (a loss of your own must be registered before its checkpoint loads: registerLoss(SPEC), or --require FILE on the command line)`,
      loss.loss,
    );
  const lossName = loss.loss as string;
  if (loss.embeddingDim !== undefined && loss.embeddingDim !== dim)
    f.fail('loss.embeddingDim', `the backbone's embeddingDim ${dim}`, loss.embeddingDim);
  if (loss.numClasses !== undefined) f.int(loss.numClasses, 'loss.numClasses', 2, CHECKPOINT_LIMITS.tensorElements);

  const c = f.obj(ck.config, 'config');
  f.declared(c, { ...TRAIN_OPTIONS, ...DATA_OPTIONS }, 'config');
  const epochs = c.epochs as number;
  f.opt(c, 'schedule', (v, p) => f.declared(f.obj(v, p), SCHEDULE_OPTIONS, p), 'config');
  for (const key of ['seen', 'unseen'])
    f.opt(c, key, (v, p) => f.arr(v, p).forEach((x, i) => f.int(x, `${p}[${i}]`, 0)), 'config');
  // A run made by the command line records its data set and the classes of its split.
  if (f.opt(c, 'dataset', (v, p) => f.str(v, p), 'config') !== undefined)
    for (const key of ['seen', 'unseen'])
      if (c[key] === undefined)
        f.fail(`config.${key}`, `the ${key} classes (a list: the run names a dataset)`, undefined);
  if (c.lossName !== undefined && c.lossName !== lossName)
    f.fail('config.lossName', `the loss the options belong to, ${JSON.stringify(lossName)}`, c.lossName);

  const epoch = f.int(ck.epoch, 'epoch', 1, epochs);
  f.int(ck.step, 'step', epoch);
  f.int(ck.rngState, 'rngState', 0, 2 ** 32 - 1);
  const history = f.arr(ck.history, 'history');
  if (history.length !== epoch) f.fail('history', `one row per epoch (${epoch})`, `${history.length} rows`);
  history.forEach((row, i) => {
    const r = f.obj(row, `history[${i}]`);
    for (const [k, v] of Object.entries(r))
      if (v !== null && typeof v !== 'number') f.fail(`history[${i}].${k}`, 'a number', v);
    if (r.epoch !== i + 1) f.fail(`history[${i}].epoch`, String(i + 1), r.epoch);
  });

  const model = f.arr(ck.model, 'model');
  if (model.length === 0) f.fail('model', 'the backbone weights (a non-empty list)', model);
  model.forEach((w, i) => {
    f.str(f.obj(w, `model[${i}]`).name, `model[${i}].name`);
    f.tensor(w, `model[${i}]`, ['float32'], version);
  });
  const state = f.obj(ck.lossState, 'lossState');
  for (const [k, v] of Object.entries(state)) f.tensor(v, `lossState.${k}`, ['float32'], version);
  if (ck.optimizerState !== undefined)
    for (const [k, v] of Object.entries(f.obj(ck.optimizerState, 'optimizerState')))
      f.tensor(v, `optimizerState.${k}`, ['float32'], version);
  f.arr(ck.optimizer, 'optimizer').forEach((w, i) => {
    const name = f.str(f.obj(w, `optimizer[${i}]`).name, `optimizer[${i}].name`);
    f.tensor(w, `optimizer[${i}]`, name === 'iter' ? ['int32'] : ['float32'], version);
  });
}
