/**
 * Checkpoints. A run folder holds:
 *  - `checkpoint.json`: the configuration (backbone spec, loss options, training setup),
 *    progress (epoch, step, RNG state), the history, and a manifest of every tensor: its shape,
 *    dtype and byte offset in one of the two binary files below;
 *  - `model/model.json` + `model/weights-<tag>.bin`: the embedding network in TF.js's own
 *    LayersModel format (`tf.loadLayersModel('file://run/model/model.json')` with tfjs-node, or
 *    `loadEmbeddingModel(run)` anywhere), written by TF.js's serializer;
 *  - `state-<tag>.bin`: the loss state (class weights W, running statistics) and the optimizer's
 *    slots, as raw little-endian float32/int32.
 *
 * Nothing is lost on a crash: each save writes its binaries under fresh names (the tag is the
 * step and a random suffix), reads them back and compares, then replaces `checkpoint.json`
 * atomically (temp file + fsync + rename): that rename is the commit. Only then is `model.json`
 * replaced and the previous save's binaries removed, so a run killed at any point leaves a
 * checkpoint.json whose files all exist and match it.
 *
 * Version 1 checkpoints (everything in one JSON file, tensors in base64) still load.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as tf from '../tf';
import { BackboneSpec, buildBackbone, resolveNeckLayout } from '../models';
import { createLoss, EmbeddingLoss } from '../losses';
import { checksumError, sha256Hex, writeFileAtomic } from '../util/fs';
import { validateCheckpointFields } from './checkpoint-schema';

export const CHECKPOINT_FORMAT = 'margin-lab-checkpoint';
/** The version written; `readCheckpoint` also reads every older one in CHECKPOINT_VERSIONS. */
export const CHECKPOINT_VERSION = 2;
export const CHECKPOINT_VERSIONS: readonly number[] = [1, 2];

/** A tensor read from a checkpoint: its raw little-endian bytes. */
export interface StoredTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  bytes: Uint8Array;
}

/** Where a version-2 tensor lives: bytes [offset, offset + 4·size) of its binary file. */
export interface TensorRef {
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
}

/** The files of a version-2 checkpoint, relative to its folder. */
export interface CheckpointFiles {
  /** The TF.js LayersModel (`model/model.json`). */
  model: string;
  /** The model's weights, in `model.weights` order (`model/weights-<tag>.bin`). */
  weights: string;
  /** Loss state and optimizer slots (`state-<tag>.bin`). */
  state: string;
  /** SHA-256 (hex) of the weights and state files, checked at load (checkpoints since 2026-12-08). */
  sha256?: { weights: string; state: string };
}

/** What `readCheckpoint` returns, whatever the version on disk. */
export interface CheckpointData {
  format: typeof CHECKPOINT_FORMAT;
  /** The version the file was written in (1 or 2). */
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
  /** Version 2: the files the tensors were read from. */
  files?: CheckpointFiles;
}

/** The JSON of a version-2 `checkpoint.json`: tensors are references into the binary files. */
interface CheckpointJsonV2 extends Omit<CheckpointData, 'model' | 'lossState' | 'optimizer' | 'optimizerState'> {
  files: CheckpointFiles;
  model: Array<{ name: string } & TensorRef>;
  lossState: Record<string, TensorRef>;
  optimizer: Array<{ name: string } & TensorRef>;
  optimizerState?: Record<string, TensorRef>;
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

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function restore(s: StoredTensor, what: string): tf.Tensor {
  const n = elements(s.shape);
  if (s.bytes.length !== n * 4)
    throw new Error(
      `checkpoint: ${what} has ${s.bytes.length} bytes, expected ${n * 4} for shape [${s.shape.join(', ')}]`,
    );
  // A copy: typed arrays need 4-byte alignment, which a slice of a file's buffer may not have.
  const ab = s.bytes.buffer.slice(s.bytes.byteOffset, s.bytes.byteOffset + s.bytes.byteLength) as ArrayBuffer;
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

/** Lays tensors end to end in one binary file, recording where each one went. */
class Packer {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  async add(t: tf.Tensor): Promise<TensorRef> {
    const d = await t.data();
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
    const ref: TensorRef = { shape: t.shape.slice(), dtype: t.dtype as 'float32' | 'int32', offset: this.size };
    this.parts.push(bytes);
    this.size += bytes.length;
    return ref;
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.parts);
  }
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

const WEIGHTS_FILE = /^weights-\d+-[0-9a-f]{8}\.bin$/;
const STATE_FILE = /^state-\d+-[0-9a-f]{8}\.bin$/;

/** TF.js's own serialization of a model: its topology and weights, in `model.weights` order. */
export async function serializeModel(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightSpecs || !artifacts.weightData)
    throw new Error('checkpoint: TF.js saved no weights (internal error)');
  return artifacts;
}

/** The `model.json` TF.js's `loadLayersModel` reads, with the weights in `weightsFile` next to it. */
export function modelJson(
  a: tf.io.ModelArtifacts,
  weightsFile: string,
  weights: Uint8Array,
  about: Record<string, unknown>,
): Record<string, unknown> {
  return {
    format: a.format,
    generatedBy: a.generatedBy,
    convertedBy: a.convertedBy ?? null,
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [weightsFile], weights: a.weightSpecs }],
    // loadEmbeddingModel checks the weights file against weightsSha256.
    userDefinedMetadata: { marginLab: { ...about, weightsSha256: sha256Hex(weights) } },
  };
}

function sameBytes(file: string, want: Uint8Array): (written: Buffer) => void {
  return (written) => {
    if (!written.equals(want))
      throw new Error(`checkpoint ${file}: the written copy differs from the data; the previous checkpoint is kept`);
  };
}

function parses(file: string): (written: Buffer) => void {
  return (bytes) => {
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new Error(
        `checkpoint ${file}: the written copy does not parse (${(e as Error).message}); the previous checkpoint is kept`,
      );
    }
  };
}

/** Removes the binaries of earlier saves (those not named in `keep`). */
function removeOldBinaries(dir: string, keep: CheckpointFiles): void {
  const sweep = (folder: string, pattern: RegExp, current: string) => {
    let names: string[] = [];
    try {
      names = fs.readdirSync(folder);
    } catch {
      return;
    }
    for (const n of names) if (pattern.test(n) && n !== current) fs.rmSync(path.join(folder, n), { force: true });
  };
  sweep(path.join(dir, 'model'), WEIGHTS_FILE, path.basename(keep.weights));
  sweep(dir, STATE_FILE, path.basename(keep.state));
}

/**
 * A run folder margin-lab may write into: its `model/` subfolder, where saves replace and delete
 * weight files, must be a real folder inside it, not a symbolic link (through which a save would
 * overwrite and delete another run's files), and the files a save replaces must not be folders.
 */
export function checkRunFolder(dir: string): void {
  const at = (rel: string) => {
    try {
      return fs.lstatSync(path.join(dir, rel));
    } catch {
      return null;
    }
  };
  const model = at('model');
  if (model?.isSymbolicLink())
    throw new Error(
      `run folder ${dir}: model/ is a symbolic link (to ${fs.readlinkSync(path.join(dir, 'model'))}); a save replaces and deletes weight files in it, which would change another folder. Remove the link, or choose another run folder`,
    );
  if (model && !model.isDirectory())
    throw new Error(
      `run folder ${dir}: model is a file, expected the folder of the model files; move it away or choose another run folder`,
    );
  for (const f of ['checkpoint.json', 'model/model.json', 'history.csv']) {
    const st = at(f);
    if (st?.isDirectory())
      throw new Error(
        `run folder ${dir}: ${f} is a folder, expected a file; move it away or choose another run folder`,
      );
  }
}

/** Writes a checkpoint (see the module comment for the files and the order they are written in). */
export async function saveCheckpoint(input: SaveInput): Promise<void> {
  const dir = path.dirname(input.file);
  checkRunFolder(dir);
  const tag = `${input.step}-${crypto.randomBytes(4).toString('hex')}`;
  const files: CheckpointFiles = {
    model: 'model/model.json',
    weights: `model/weights-${tag}.bin`,
    state: `state-${tag}.bin`,
  };

  const art = await serializeModel(input.model);
  const weightBytes = new Uint8Array(tf.io.CompositeArrayBuffer.join(art.weightData));
  const specs = art.weightSpecs!;
  const weights = input.model.weights;
  if (specs.length !== weights.length) throw new Error('checkpoint: TF.js saved another weight count (internal error)');
  let offset = 0;
  const model = weights.map((w, i) => {
    const s = specs[i];
    if (s.name !== w.originalName || s.dtype !== 'float32' || s.quantization)
      throw new Error(
        `checkpoint: TF.js saved weight #${i} as ${s.name} (${s.dtype}), expected ${w.originalName} float32 (internal error)`,
      );
    const ref = { name: weightKind(w.originalName), shape: s.shape.slice(), dtype: 'float32' as const, offset };
    offset += elements(s.shape) * 4;
    return ref;
  });
  if (offset !== weightBytes.length)
    throw new Error(`checkpoint: TF.js saved ${weightBytes.length} weight bytes, expected ${offset} (internal error)`);

  const state = new Packer();
  const lossState: Record<string, TensorRef> = {};
  for (const [k, v] of Object.entries(input.loss.stateDict())) lossState[k] = await state.add(v);
  const optimizer: Array<{ name: string } & TensorRef> = [];
  for (const w of await input.optimizer.getWeights()) {
    optimizer.push({ name: w.name, ...(await state.add(w.tensor)) });
    // getWeights() makes a fresh tensor for the iteration count; the slots are live variables.
    if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
  const optimizerState: Record<string, TensorRef> = {};
  for (const [k, v] of Object.entries(extraOptimizerVars(input.optimizer))) optimizerState[k] = await state.add(v);
  const stateBytes = state.bytes();

  const lossConfig = input.loss.config();
  const json: CheckpointJsonV2 = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    savedAt: new Date().toISOString(),
    backbone: backboneToStore(input.backbone),
    loss: lossConfig,
    config: input.config,
    epoch: input.epoch,
    step: input.step,
    rngState: input.rngState,
    history: input.history,
    files: { ...files, sha256: { weights: sha256Hex(weightBytes), state: sha256Hex(stateBytes) } },
    model,
    lossState,
    optimizer,
    ...(Object.keys(optimizerState).length ? { optimizerState } : {}),
  };
  const about = {
    backbone: backboneToStore(input.backbone),
    loss: String(lossConfig.loss),
    embeddingDim: input.backbone.embeddingDim,
    epoch: input.epoch,
    step: input.step,
  };
  const written: string[] = [];
  let committed = false;
  try {
    for (const [rel, bytes] of [
      [files.weights, weightBytes],
      [files.state, stateBytes],
    ] as const) {
      const f = path.join(dir, rel);
      writeFileAtomic(f, bytes, { verify: sameBytes(f, bytes) });
      written.push(f);
    }
    writeFileAtomic(input.file, JSON.stringify(json), { verify: parses(input.file) });
    committed = true;
  } finally {
    if (!committed) for (const f of written) fs.rmSync(f, { force: true });
  }
  const mj = path.join(dir, files.model);
  writeFileAtomic(mj, JSON.stringify(modelJson(art, path.basename(files.weights), weightBytes, about)), {
    verify: parses(mj),
  });
  removeOldBinaries(dir, files);
}

/** Reads and validates a checkpoint (version 1 or 2) and its binary files; no tensors are created yet. */
export function readCheckpoint(file: string): CheckpointData {
  if (!fs.existsSync(file)) throw new Error(`checkpoint ${file} does not exist`);
  if (fs.statSync(file).isDirectory())
    throw new Error(`checkpoint ${file} is a folder, expected a checkpoint.json file`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`checkpoint ${file} is not valid JSON (${(e as Error).message}); it may be truncated`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`checkpoint ${file}: expected a JSON object, got ${JSON.stringify(raw)}`);
  if (raw.format !== CHECKPOINT_FORMAT)
    throw new Error(`${file} is not a margin-lab checkpoint (format ${JSON.stringify(raw.format)})`);
  if (!CHECKPOINT_VERSIONS.includes(raw.version as number))
    throw new Error(
      `${file}: checkpoint version ${JSON.stringify(raw.version)} is not supported (expected one of ${CHECKPOINT_VERSIONS.join(', ')})`,
    );
  validateCheckpointFields(raw, file);
  const data = raw.version === 1 ? fromVersion1(raw) : fromVersion2(raw as unknown as CheckpointJsonV2, file);
  return { ...data, backbone: storedBackbone(data.backbone) };
}

/**
 * The spec a checkpoint is written with: the neck layout it builds recorded (the default may change;
 * the checkpoint's weights fit one layout only).
 */
export function backboneToStore(spec: BackboneSpec): BackboneSpec {
  const layout = resolveNeckLayout(spec);
  return layout ? { ...spec, neckLayout: layout } : spec;
}

/**
 * The spec a stored checkpoint was trained with. Checkpoints written before `neckLayout` existed
 * built the reference net's neck as 'relu-bn' (then the only layout), whatever the default now.
 */
function storedBackbone(spec: BackboneSpec): BackboneSpec {
  return spec.name === 'reference' && spec.neck && spec.neckLayout === undefined
    ? { ...spec, neckLayout: 'relu-bn' }
    : spec;
}

type Base64Tensor = { shape: number[]; dtype: 'float32' | 'int32'; data: string };

/** Version 1: tensors inline, base64. */
function fromVersion1(raw: Record<string, unknown>): CheckpointData {
  const t = (s: Base64Tensor): StoredTensor => ({
    shape: s.shape,
    dtype: s.dtype,
    bytes: Buffer.from(s.data, 'base64'),
  });
  const named = (list: unknown) =>
    (list as Array<{ name: string } & Base64Tensor>).map((s) => ({ name: s.name, ...t(s) }));
  const dict = (d: unknown) =>
    Object.fromEntries(Object.entries((d ?? {}) as Record<string, Base64Tensor>).map(([k, s]) => [k, t(s)]));
  const data = raw as unknown as CheckpointData;
  return {
    ...data,
    model: named(raw.model),
    lossState: dict(raw.lossState),
    optimizer: named(raw.optimizer),
    ...(raw.optimizerState ? { optimizerState: dict(raw.optimizerState) } : {}),
  };
}

/** Version 2: tensors are byte ranges of the weights and state files. */
function fromVersion2(raw: CheckpointJsonV2, file: string): CheckpointData {
  const dir = path.dirname(file);
  const load = (rel: string, what: string, refs: Array<[string, TensorRef]>): Map<string, StoredTensor> => {
    const p = path.join(dir, rel);
    if (!fs.existsSync(p))
      throw new Error(
        `checkpoint ${file}: its ${what} file ${rel} is missing (deleted, or the run folder was copied without it)`,
      );
    const buf = fs.readFileSync(p);
    const end = refs.reduce((m, [, r]) => Math.max(m, r.offset + elements(r.shape) * 4), 0);
    if (buf.length !== end)
      throw new Error(
        `checkpoint ${file}: ${rel} has ${buf.length} bytes, expected ${end} (the tensors checkpoint.json lists); it is truncated or from another save`,
      );
    const want = raw.files.sha256?.[what as 'weights' | 'state'];
    if (want !== undefined) {
      const got = sha256Hex(buf);
      if (got !== want) throw checksumError('checkpoint', file, rel, got, want);
    }
    return new Map(
      refs.map(([field, r]) => [
        field,
        { shape: r.shape, dtype: r.dtype, bytes: buf.subarray(r.offset, r.offset + elements(r.shape) * 4) },
      ]),
    );
  };
  const w = load(
    raw.files.weights,
    'weights',
    raw.model.map((r, i) => [`model[${i}]`, r]),
  );
  const stateRefs: Array<[string, TensorRef]> = [
    ...Object.entries(raw.lossState).map(([k, r]) => [`lossState.${k}`, r] as [string, TensorRef]),
    ...raw.optimizer.map((r, i) => [`optimizer[${i}]`, r] as [string, TensorRef]),
    ...Object.entries(raw.optimizerState ?? {}).map(([k, r]) => [`optimizerState.${k}`, r] as [string, TensorRef]),
  ];
  const s = load(raw.files.state, 'state', stateRefs);
  const { optimizerState: _refs, ...rest } = raw;
  return {
    ...rest,
    model: raw.model.map((r, i) => ({ name: r.name, ...w.get(`model[${i}]`)! })),
    lossState: Object.fromEntries(Object.keys(raw.lossState).map((k) => [k, s.get(`lossState.${k}`)!])),
    optimizer: raw.optimizer.map((r, i) => ({ name: r.name, ...s.get(`optimizer[${i}]`)! })),
    ...(raw.optimizerState
      ? {
          optimizerState: Object.fromEntries(
            Object.keys(raw.optimizerState).map((k) => [k, s.get(`optimizerState.${k}`)!]),
          ),
        }
      : {}),
  };
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
  let loss: EmbeddingLoss;
  try {
    loss = createLoss(String(cfg.loss), cfg as never);
  } catch (e) {
    model.dispose();
    throw new Error(
      `checkpoint ${file}: its loss section does not build a ${JSON.stringify(cfg.loss)} loss (${(e as Error).message}); the checkpoint was edited or is damaged`,
    );
  }
  loadLossState(loss, data.lossState, file);
  loss.loadConfigState?.(cfg);
  loss.training = false;
  return { model, loss, data };
}
