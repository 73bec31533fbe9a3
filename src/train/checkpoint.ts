/**
 * Checkpoints: backbone spec + weights, loss config + state (W, running statistics), optimizer
 * state, progress and history, in one JSON file written atomically (temp file + fsync +
 * rename), so a run killed mid-write leaves the previous checkpoint intact.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { BackboneSpec, buildBackbone } from '../models';
import { createLoss, EmbeddingLoss } from '../losses';
import { writeFileAtomic } from '../util/fs';
import { validateCheckpointFields } from './checkpoint-schema';

export const CHECKPOINT_FORMAT = 'margin-lab-checkpoint';
export const CHECKPOINT_VERSION = 1;

interface StoredTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  /** Little-endian raw bytes, base64. */
  data: string;
}

export interface CheckpointData {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  savedAt: string;
  backbone: BackboneSpec;
  loss: Record<string, unknown>;
  /** Training setup (optimizer, lr, batch, classes, ...). */
  config: Record<string, unknown>;
  epoch: number;
  step: number;
  rngState: number;
  history: Array<Record<string, number>>;
  /** Model weights in the model's order (layer names carry per-process counters, so order is the key). */
  model: Array<{ name: string } & StoredTensor>;
  lossState: Record<string, StoredTensor>;
  optimizer: Array<{ name: string } & StoredTensor>;
  /**
   * Optimizer state that `getWeights()` leaves out: Adam's running powers β₁ᵗ and β₂ᵗ. tfjs's
   * `setWeights` recomputes them as pow(β, t + 1), which differs from the product accumulated
   * step by step in the last float32 bit; restoring the stored values makes a resumed run
   * bit-identical to an uninterrupted one. Absent in older checkpoints and for SGD.
   */
  optimizerState?: Record<string, StoredTensor>;
}

/** The optimizer's own variables that getWeights() omits (Adam's accBeta1/accBeta2). */
function extraOptimizerVars(optimizer: tf.Optimizer): Record<string, tf.Variable> {
  const o = optimizer as unknown as { accBeta1?: unknown; accBeta2?: unknown };
  const out: Record<string, tf.Variable> = {};
  for (const k of ['accBeta1', 'accBeta2'] as const) if (o[k] instanceof tf.Variable) out[k] = o[k] as tf.Variable;
  return out;
}

/** Puts the stored extra optimizer state back (after `setWeights`). */
export function restoreOptimizerState(optimizer: tf.Optimizer, data: CheckpointData, file = 'checkpoint'): void {
  const vars = extraOptimizerVars(optimizer);
  for (const [k, stored] of Object.entries(data.optimizerState ?? {})) {
    const v = vars[k];
    if (!v) throw new Error(`${file}: optimizerState.${k} does not belong to this optimizer (saved from another one?)`);
    const t = restore(stored, `optimizerState.${k}`);
    v.assign(t);
    t.dispose();
  }
}

async function store(t: tf.Tensor): Promise<StoredTensor> {
  const data = await t.data();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { shape: t.shape.slice(), dtype: t.dtype as 'float32' | 'int32', data: Buffer.from(bytes).toString('base64') };
}

function restore(s: StoredTensor, what: string): tf.Tensor {
  const buf = Buffer.from(s.data, 'base64');
  const n = s.shape.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4)
    throw new Error(`checkpoint: ${what} has ${buf.length} bytes, expected ${n * 4} for shape [${s.shape.join(', ')}]`);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const arr = s.dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
  if (arr instanceof Float32Array) {
    const bad = arr.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new Error(
        `checkpoint: ${what} holds ${arr[bad]} at element ${bad} (of shape [${s.shape.join(', ')}]); it was saved from a diverged run or is damaged`,
      );
  }
  return tf.tensor(arr, s.shape, s.dtype);
}

export interface SaveInput {
  file: string;
  model: tf.LayersModel;
  backbone: BackboneSpec;
  loss: EmbeddingLoss;
  optimizer: tf.Optimizer;
  config: Record<string, unknown>;
  epoch: number;
  step: number;
  rngState: number;
  history: Array<Record<string, number>>;
}

/** Writes a checkpoint atomically. */
export async function saveCheckpoint(input: SaveInput): Promise<void> {
  const model: Array<{ name: string } & StoredTensor> = [];
  for (const w of input.model.weights) model.push({ name: weightKind(w.originalName), ...(await store(w.read())) });
  const lossState: Record<string, StoredTensor> = {};
  for (const [k, v] of Object.entries(input.loss.stateDict())) lossState[k] = await store(v);
  const optimizer: Array<{ name: string } & StoredTensor> = [];
  for (const w of await input.optimizer.getWeights()) {
    optimizer.push({ name: w.name, ...(await store(w.tensor)) });
    // getWeights() makes a fresh tensor for the iteration count; the slots are live variables.
    if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
  const optimizerState: Record<string, StoredTensor> = {};
  for (const [k, v] of Object.entries(extraOptimizerVars(input.optimizer))) optimizerState[k] = await store(v);
  const data: CheckpointData = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    backbone: input.backbone,
    loss: input.loss.config(),
    config: input.config,
    epoch: input.epoch,
    step: input.step,
    rngState: input.rngState,
    history: input.history,
    model,
    lossState,
    optimizer,
    ...(Object.keys(optimizerState).length ? { optimizerState } : {}),
  };
  writeFileAtomic(input.file, JSON.stringify(data), {
    verify: (bytes) => {
      try {
        JSON.parse(bytes.toString('utf8'));
      } catch (e) {
        throw new Error(
          `checkpoint ${input.file}: the written copy does not parse (${(e as Error).message}); the previous checkpoint is kept`,
        );
      }
    },
  });
}

/** Reads and validates a checkpoint file (no tensors created yet). */
export function readCheckpoint(file: string): CheckpointData {
  if (!fs.existsSync(file)) throw new Error(`checkpoint ${file} does not exist`);
  let data: CheckpointData;
  if (fs.statSync(file).isDirectory())
    throw new Error(`checkpoint ${file} is a folder, expected a checkpoint.json file`);
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointData;
  } catch (e) {
    throw new Error(`checkpoint ${file} is not valid JSON (${(e as Error).message}); it may be truncated`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data))
    throw new Error(`checkpoint ${file}: expected a JSON object, got ${JSON.stringify(data)}`);
  if (data.format !== CHECKPOINT_FORMAT)
    throw new Error(`${file} is not a margin-lab checkpoint (format ${JSON.stringify(data.format)})`);
  if (data.version !== CHECKPOINT_VERSION)
    throw new Error(`${file}: checkpoint version ${data.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  validateCheckpointFields(data, file);
  return data;
}

/** "conv2d_Conv2D3/kernel" → "kernel": the part of a weight name that is stable across processes. */
function weightKind(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/** Copies stored weights into a model, refusing any architecture mismatch. */
export function loadModelWeights(
  model: tf.LayersModel,
  stored: Array<{ name: string } & StoredTensor>,
  file = 'checkpoint',
): void {
  const weights = model.weights;
  if (weights.length !== stored.length) {
    throw new Error(
      `${file} was saved from another architecture: it has ${stored.length} weight tensors, this model has ${weights.length}`,
    );
  }
  const tensors: tf.Tensor[] = [];
  try {
    weights.forEach((w, i) => {
      const s = stored[i];
      if (s.name !== weightKind(w.originalName) || s.shape.join(',') !== w.shape.join(',')) {
        throw new Error(
          `${file} was saved from another architecture: weight #${i} is ${s.name} [${s.shape.join(', ')}] there but ${weightKind(w.originalName)} [${w.shape.join(', ')}] in this model`,
        );
      }
      tensors.push(restore(s, `weight #${i}`));
    });
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

/** Copies stored loss state into a loss. */
export function loadLossState(loss: EmbeddingLoss, stored: Record<string, StoredTensor>, file = 'checkpoint'): void {
  for (const [name, v] of Object.entries(loss.stateDict())) {
    const s = stored[name];
    if (!s) throw new Error(`${file}: the loss state has no "${name}" (saved from a different loss?)`);
    if (s.shape.join(',') !== v.shape.join(','))
      throw new Error(`${file}: loss ${name} has shape [${s.shape.join(', ')}] there but [${v.shape.join(', ')}] here`);
    const t = restore(s, name);
    v.assign(t);
    t.dispose();
  }
}

/** Optimizer state as NamedTensors for `optimizer.setWeights` (caller disposes). */
export function optimizerWeights(data: CheckpointData): Array<{ name: string; tensor: tf.Tensor }> {
  return data.optimizer.map((w) => ({ name: w.name, tensor: restore(w, `optimizer ${w.name}`) }));
}

/** Rebuilds the model and loss of a checkpoint, for evaluation or embedding export. */
export function loadForInference(file: string): { model: tf.LayersModel; loss: EmbeddingLoss; data: CheckpointData } {
  const data = readCheckpoint(file);
  const model = buildBackbone(data.backbone);
  loadModelWeights(model, data.model, file);
  const cfg = data.loss;
  const loss = createLoss(String(cfg.loss), cfg as never);
  loadLossState(loss, data.lossState, file);
  loss.loadConfigState?.(cfg);
  loss.training = false;
  return { model, loss, data };
}
