/**
 * Export: a trained run as a self-contained bundle for other programs and for web pages.
 *
 *  - `model.json` + `weights.bin`: the embedding network in TF.js's LayersModel format
 *    (`tf.loadLayersModel('file://…/model.json')` in Node with tfjs-node, `tf.loadLayersModel(url)`
 *    in a page served over HTTP, or `loadEmbeddingModel(dir)` here);
 *  - `meta.json`: what a caller needs to use it: the input shape and normalisation, the embedding
 *    dimension, the loss, and the cosine threshold at FAR 1e-3 measured on the run's own
 *    evaluation set (the unseen classes' test images);
 *  - `README.md`: the same in words, with a code example.
 *
 * With `demo`, the bundle is also a verification page that works offline from the file system
 * (`index.html`): TF.js, the model and a strip of unseen samples are loaded by `<script>` tags
 * (a page opened from `file://` may not fetch files), and the page embeds what the reader draws or
 * picks, in the browser.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { CheckpointData, modelJson, serializeModel } from '../train/checkpoint';
import { ClassSubset } from '../data';
import { embedImagesAsync, evaluateEmbeddings } from '../eval';
import { normalizeRows } from '../eval/metrics';
import { writeFilesTogether } from '../util/fs';

/** The page's HTML and script (assets/demo, shipped with the package). */
const DEMO_ASSETS = path.join(__dirname, '..', '..', 'assets', 'demo');

export const EXPORT_FORMAT = 'margin-lab-export';
export const EXPORT_VERSION = 1;

/** The false accept rate the exported threshold is set at. */
export const EXPORT_FAR = 1e-3;

/** `meta.json` of an export bundle. */
export interface ExportMeta {
  format: typeof EXPORT_FORMAT;
  version: number;
  exportedAt: string;
  /** The run it came from. */
  source: { checkpoint: string | null; epoch: number; step: number; dataset: string | null };
  input: {
    /** [height, width, channels] of one image; the model takes a batch [n, h, w, c] (NHWC). */
    shape: [number, number, number];
    dtype: 'float32';
    /** How pixels become inputs. */
    normalisation: string;
    /** The value of an empty pixel (the data sets draw white shapes on black). */
    background: number;
  };
  embeddingDim: number;
  /** The network's output is the raw embedding: compare two by the cosine of the angle between them. */
  compare: 'cosine';
  /** The loss options the run trained with (config()). */
  loss: Record<string, unknown>;
  threshold: {
    far: number;
    /** Accept two images as the same identity when cosine ≥ this. */
    cosine: number;
    /** The true accept rate at that threshold on the same pairs. */
    tar: number;
    measuredOn: { split: 'unseen'; classes: number; images: number; genuinePairs: number; impostorPairs: number };
  };
}

export interface ExportSample {
  /** The class id in the data set, its name (the syllable), and the image as 0–255 bytes, base64. */
  label: number;
  name: string;
  pixels: string;
  embedding: number[];
  /** Its position in the page's 2-D projection. */
  xy: [number, number];
}

/** The page's data: samples of unseen classes and the projection that places any embedding in 2-D. */
export interface DemoSamples {
  samples: ExportSample[];
  /** Projection of a unit-normalized embedding: xy = P · (u − mean). */
  projection: { mean: number[]; axes: [number[], number[]] };
}

export interface ExportOptions {
  /** The run's model and checkpoint data (from `loadForInference`). */
  model: tf.LayersModel;
  data: CheckpointData;
  /** The checkpoint file, recorded in meta.json. */
  checkpoint?: string;
  /**
   * The evaluation set the threshold is measured on, and the page's samples are drawn from: the
   * unseen classes' test images (`split.testUnseen`; the CLI rebuilds the run's split).
   */
  evalSet: ClassSubset;
  /** The bundle folder (created; files of the same names in it are replaced). */
  out: string;
  /** Also write the verification page. */
  demo?: boolean;
  /** Seed of the evaluation pairs (the run's seed). */
  seed?: number;
  /** Page samples: at most this many unseen classes (default 24) × images each (default 4). */
  demoClasses?: number;
  demoPerClass?: number;
}

/** What `saveLayersModel` wrote: the model.json object and the weight bytes. */
export interface SavedLayersModel {
  json: Record<string, unknown>;
  weights: Uint8Array;
}

/** A LayersModel as the contents of `model.json` + `weights.bin` (written by the caller). */
async function layersModelFiles(model: tf.LayersModel, about: Record<string, unknown>): Promise<SavedLayersModel> {
  const art = await serializeModel(model);
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(art.weightData));
  return { json: modelJson(art, 'weights.bin', weights, about), weights };
}

/** Writes a LayersModel as `model.json` + `weights.bin` in `dir` (both or neither); returns what it wrote. */
export async function saveLayersModel(
  model: tf.LayersModel,
  dir: string,
  about: Record<string, unknown>,
): Promise<SavedLayersModel> {
  const saved = await layersModelFiles(model, about);
  writeFilesTogether(modelFileList(dir, saved));
  return saved;
}

function modelFileList(dir: string, saved: SavedLayersModel): Array<[string, string | Uint8Array]> {
  return [
    [path.join(dir, 'weights.bin'), saved.weights],
    [path.join(dir, 'model.json'), JSON.stringify(saved.json, null, 1)],
  ];
}

/** The two leading principal axes of rows `u` [n·dim] (power iteration with deflation), and their mean. */
export function principalAxes(u: Float64Array, dim: number): { mean: number[]; axes: [number[], number[]] } {
  const n = u.length / dim;
  const mean = Array.from({ length: dim }, (_, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += u[i * dim + k];
    return s / n;
  });
  const cov = Array.from({ length: dim }, () => new Float64Array(dim));
  for (let i = 0; i < n; i++)
    for (let a = 0; a < dim; a++) {
      const da = u[i * dim + a] - mean[a];
      for (let b = 0; b < dim; b++) cov[a][b] += (da * (u[i * dim + b] - mean[b])) / n;
    }
  const axes: number[][] = [];
  for (let c = 0; c < Math.min(2, dim); c++) {
    let v = Array.from({ length: dim }, (_, k) => Math.cos(k + c));
    for (let it = 0; it < 500; it++) {
      for (const a of axes) {
        const d = v.reduce((s, x, k) => s + x * a[k], 0);
        v = v.map((x, k) => x - d * a[k]);
      }
      const w = cov.map((row) => row.reduce((s, x, k) => s + x * v[k], 0));
      const norm = Math.hypot(...w) || 1;
      v = w.map((x) => x / norm);
    }
    axes.push(v);
  }
  while (axes.length < 2) axes.push(Array.from({ length: dim }, () => 0));
  return { mean, axes: [axes[0], axes[1]] };
}

function project(p: DemoSamples['projection'], u: ArrayLike<number>): [number, number] {
  const d = (a: number[]) => a.reduce((s, x, k) => s + x * (u[k] - p.mean[k]), 0);
  return [d(p.axes[0]), d(p.axes[1])];
}

/** Up to `classes` × `perClass` images of the unseen classes, in class order. */
function pickSamples(set: ClassSubset, classes: number, perClass: number): number[] {
  const out: number[] = [];
  for (const c of set.classes.slice(0, classes)) {
    let k = 0;
    for (let i = 0; i < set.y.length && k < perClass; i++)
      if (set.y[i] === c) {
        out.push(i);
        k++;
      }
  }
  return out;
}

const README = (meta: ExportMeta, demo: boolean) => `# margin-lab export

An embedding network trained by margin-lab (${String(meta.loss.loss)} on ${meta.source.dataset ?? 'custom data'}, epoch ${meta.source.epoch}), in TF.js's LayersModel format.

| file | what |
|---|---|
| \`model.json\`, \`weights.bin\` | the network: input [n, ${meta.input.shape.join(', ')}] float32, output [n, ${meta.embeddingDim}] embeddings |
| \`meta.json\` | input shape and normalisation, embedding size, loss options, the decision threshold |
${demo ? '| `index.html` | a verification page: open it in a browser, offline |\n' : ''}
## Use

- **Input:** ${meta.input.normalisation}; an empty pixel is ${meta.input.background}. Layout NHWC.
- **Compare** two images by the cosine of their embeddings (the output is not normalized).
- **Decide:** same identity when cosine ≥ ${meta.threshold.cosine.toFixed(6)}. On the run's unseen classes (${meta.threshold.measuredOn.classes} classes, ${meta.threshold.measuredOn.impostorPairs} impostor pairs) that threshold lets ${meta.threshold.far} of impostor pairs through and accepts ${(100 * meta.threshold.tar).toFixed(2)} % of genuine pairs.

\`\`\`js
// Node, with @tensorflow/tfjs-node:
const tf = require('@tensorflow/tfjs-node');
const model = await tf.loadLayersModel('file://' + require('path').resolve('model.json'));
const meta = require('./meta.json');
const e = model.predict(images); // images: tf.Tensor4D [n, ${meta.input.shape.join(', ')}], pixel / 255
const u = tf.div(e, tf.norm(e, 'euclidean', 1, true));
const cos = tf.sum(tf.mul(u.slice([0], [1]), u.slice([1], [1]))).dataSync()[0];
console.log(cos >= meta.threshold.cosine ? 'same' : 'different');
\`\`\`

In a web page served over HTTP, \`tf.loadLayersModel('model.json')\` reads the same files. In margin-lab, \`loadEmbeddingModel(folder)\` does.
`;

/** Writes the export bundle (and with `demo`, the verification page) into `out`; returns its meta. */
export async function exportRun(opts: ExportOptions): Promise<ExportMeta> {
  const { model, data, out } = opts;
  const set = opts.evalSet;
  const { emb, dim } = await embedImagesAsync(model, set.x, set.shape);
  const report = evaluateEmbeddings(emb, dim, set.y, { seed: opts.seed ?? 0 });
  const at = report.tarAtFar.find((t) => t.far === EXPORT_FAR);
  if (!at || !at.supported || at.threshold === null || at.tar === null || !Number.isFinite(at.threshold))
    throw new Error(
      `export: FAR ${EXPORT_FAR} cannot be measured on the run's unseen test images (${report.pairs.impostor} impostor pairs; at least ${1 / EXPORT_FAR} are needed)`,
    );
  const meta: ExportMeta = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: new Date().toISOString(),
    source: {
      checkpoint: opts.checkpoint ?? null,
      epoch: data.epoch,
      step: data.step,
      dataset: typeof data.config.dataset === 'string' ? data.config.dataset : null,
    },
    input: {
      shape: data.backbone.inputShape,
      dtype: 'float32',
      normalisation: 'pixel / 255, in [0, 1]',
      background: 0,
    },
    embeddingDim: dim,
    compare: 'cosine',
    loss: data.loss,
    threshold: {
      far: EXPORT_FAR,
      cosine: at.threshold,
      tar: at.tar,
      measuredOn: {
        split: 'unseen',
        classes: set.classes.length,
        images: set.y.length,
        genuinePairs: report.pairs.genuine,
        impostorPairs: report.pairs.impostor,
      },
    },
  };
  const about = { loss: String(data.loss.loss), embeddingDim: dim, epoch: data.epoch, step: data.step };
  const saved = await layersModelFiles(model, about);
  // The bundle is replaced as a whole: every file is written first, then all are renamed in.
  writeFilesTogether([
    ...modelFileList(out, saved),
    [path.join(out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n'],
    [path.join(out, 'README.md'), README(meta, !!opts.demo)],
    ...(opts.demo
      ? demoPageFiles(out, meta, saved, demoSamples(set, emb, dim, opts.demoClasses ?? 24, opts.demoPerClass ?? 4))
      : []),
  ]);
  return meta;
}

/** The page's samples and the 2-D projection fitted on all unseen test embeddings. */
export function demoSamples(
  set: ClassSubset,
  emb: Float32Array,
  dim: number,
  classes: number,
  perClass: number,
): DemoSamples {
  const u = normalizeRows(emb, dim);
  const projection = principalAxes(u, dim);
  const [h, w, c] = set.shape;
  const size = h * w * c;
  const samples = pickSamples(set, classes, perClass).map((i) => {
    const px = Buffer.alloc(size);
    for (let k = 0; k < size; k++) px[k] = Math.round(set.x[i * size + k] * 255);
    return {
      label: set.y[i],
      name: set.classNames[set.y[i]] ?? String(set.y[i]),
      pixels: px.toString('base64'),
      embedding: Array.from(emb.subarray(i * dim, (i + 1) * dim)),
      xy: project(projection, u.subarray(i * dim, (i + 1) * dim)),
    };
  });
  return { samples, projection };
}

/** The TF.js browser bundle shipped with @tensorflow/tfjs (WebGL and CPU backends). */
function tfBrowserBundle(): string {
  const file = require.resolve('@tensorflow/tfjs/dist/tf.min.js');
  return fs.readFileSync(file, 'utf8');
}

function webgpuBrowserBundle(): string | null {
  try {
    return fs.readFileSync(require.resolve('@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js'), 'utf8');
  } catch {
    return null;
  }
}

/** index.html, demo.js, bundle.js (model, meta and samples as a script) and the TF.js scripts. */
function demoPageFiles(
  out: string,
  meta: ExportMeta,
  model: SavedLayersModel,
  samples: DemoSamples,
): Array<[string, string | Uint8Array]> {
  const manifest = model.json.weightsManifest as Array<{ weights: unknown }>;
  const bundle = {
    meta,
    modelTopology: model.json.modelTopology,
    weightSpecs: manifest[0].weights,
    weights: Buffer.from(model.weights).toString('base64'),
    ...samples,
  };
  const webgpu = webgpuBrowserBundle();
  const page = fs.readFileSync(path.join(DEMO_ASSETS, 'index.html'), 'utf8');
  return [
    [path.join(out, 'bundle.js'), `window.MARGIN_LAB_BUNDLE = ${JSON.stringify(bundle)};\n`],
    [path.join(out, 'tf.min.js'), tfBrowserBundle()],
    ...(webgpu ? [[path.join(out, 'tf-backend-webgpu.min.js'), webgpu] as [string, string]] : []),
    [
      path.join(out, 'index.html'),
      page.replace('<!--WEBGPU-->', webgpu ? '<script src="tf-backend-webgpu.min.js"></script>' : ''),
    ],
    [path.join(out, 'demo.js'), fs.readFileSync(path.join(DEMO_ASSETS, 'demo.js'), 'utf8')],
  ];
}
