/**
 * Loading a saved embedding network: a run folder's model/model.json or an export bundle's
 * model.json, in TF.js's LayersModel format, read with TF.js's own loader on any backend. The
 * weights files must lie in the model's folder and match what model.json records (sizes, and the
 * SHA-256 that margin-lab's saves and exports write). Inference only: resuming a run reads its
 * checkpoint (src/train/checkpoint.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { checksumError, sha256Hex } from '../util/fs';

const elements = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Where a TF.js model.json is: `where` may be the file itself, a run folder (its
 * `model/model.json`) or an export bundle (its `model.json`).
 */
export function modelJsonPath(where: string): string {
  if (!fs.existsSync(where)) throw new Error(`loadEmbeddingModel: ${where} does not exist`);
  if (!fs.statSync(where).isDirectory()) return where;
  for (const rel of ['model/model.json', 'model.json'])
    if (fs.existsSync(path.join(where, rel))) return path.join(where, rel);
  throw new Error(
    `loadEmbeddingModel: ${where} holds neither model/model.json (a run folder) nor model.json (an export bundle)${fs.existsSync(path.join(where, 'checkpoint.json')) ? '; its checkpoint.json is version 1, which had no model files: write them with npm run export -- --run DIR --out DIR (or resume it for one more epoch), or use loadForInference' : ''}`,
  );
}

/**
 * A weights file a model.json names, which must lie in the model's own folder: a plain file name
 * (or a path below it), not absolute, without "..", and not a symbolic link out of the folder. A
 * model.json from elsewhere could otherwise make the loader read any file.
 */
function weightsFileInside(modelJson: string, p: unknown): string {
  const dir = path.dirname(path.resolve(modelJson));
  const bad = (why: string): never => {
    throw new Error(
      `loadEmbeddingModel: ${modelJson} names the weights file ${JSON.stringify(p)}, ${why}; a model's weights must be files in its own folder (${dir})`,
    );
  };
  if (typeof p !== 'string' || p === '') return bad('which is not a file name');
  if (path.isAbsolute(p) || /^[a-zA-Z]:/.test(p)) bad('an absolute path');
  if (p.split(/[\\/]/).includes('..')) bad('which climbs out of the folder with ".."');
  const f = path.resolve(dir, p);
  if (fs.existsSync(f)) {
    const real = fs.realpathSync(f);
    const realDir = fs.realpathSync(dir);
    if (real !== realDir && !real.startsWith(realDir + path.sep)) bad(`a link to ${real}, outside the folder`);
  }
  return f;
}

/**
 * Loads an embedding network saved in TF.js's LayersModel format (a run folder, an export bundle
 * or a model.json) with TF.js's own loader, on any backend; with tfjs-node,
 * `tf.loadLayersModel('file://…/model.json')` reads the same files.
 */
export async function loadEmbeddingModel(where: string): Promise<tf.LayersModel> {
  const file = modelJsonPath(where);
  let json: {
    modelTopology?: unknown;
    weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`loadEmbeddingModel: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new Error(`loadEmbeddingModel: ${file} is not a TF.js LayersModel (no modelTopology or weightsManifest)`);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const f = weightsFileInside(file, p);
      if (!fs.existsSync(f))
        throw new Error(`loadEmbeddingModel: ${file} names the weights file ${p}, which is missing`);
      buffers.push(fs.readFileSync(f));
    }
  }
  // The weights must be exactly what the manifest describes, and, where model.json records it
  // (margin-lab's own saves and exports), the bytes it was written with.
  const expected = specs.reduce((a, w) => a + elements(w.shape) * 4, 0);
  const total = buffers.reduce((a, b) => a + b.length, 0);
  const names = json.weightsManifest.flatMap((g) => g.paths).join(', ');
  if (total !== expected)
    throw new Error(
      `loadEmbeddingModel: ${file}: the weights file${buffers.length > 1 ? 's' : ''} ${names} hold${buffers.length > 1 ? '' : 's'} ${total} bytes, the ${specs.length} float32 weights model.json lists need ${expected}; ${total < expected ? 'truncated' : 'extra bytes'}: the files do not belong together`,
    );
  const recorded = (json as { userDefinedMetadata?: { marginLab?: { weightsSha256?: unknown } } }).userDefinedMetadata
    ?.marginLab?.weightsSha256;
  if (typeof recorded === 'string' && buffers.length === 1) {
    const got = sha256Hex(buffers[0]);
    if (got !== recorded) throw checksumError('loadEmbeddingModel:', file, names, got, recorded);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology as object, weightSpecs: specs, weightData }),
  );
}
