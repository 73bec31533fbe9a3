/**
 * Backbones that map an image to an embedding. All use stride-1 convolutions with max-pooling
 * for downsampling, so they train on every backend (wasm included). Each factory takes a seed
 * for reproducible initial weights and returns a tf.LayersModel whose output is the embedding
 * (linear, not normalized — the loss decides whether to normalize).
 *
 * Normalization, as face-recognition codebases train (insightface's iresnet, the ArcFace paper's
 * output option E). Both are off by default, so the course's small 2-D/3-D pictures keep their
 * recipe; the benchmark's face-recognition recipe turns both on:
 *  - `batchNorm`: BatchNorm after every convolution, before its activation (the convolution then
 *    has no bias, which the BN's β replaces). Conv backbones only.
 *  - `neck`: the embedding layer becomes BN → dropout (`dropout`, default 0) → dense → BN, the
 *    last BN with γ fixed at 1 (insightface's `features` layer: only β is trained). Every backbone.
 *    The reference net, whose conv blocks end in a hidden dense layer, takes a `neckLayout` (see
 *    {@link NeckLayout}): by default with `batchNorm` its hidden layer is dense → BN → ReLU, like
 *    its conv blocks, and no second BN follows that ReLU.
 * BatchNorm uses PyTorch's conventions (momentum 0.1 for the running statistics, i.e. tfjs
 * momentum 0.9; ε = 1e-5), so the PyTorch twin (bench/torch_twin.py) matches it. In training
 * (`model.apply(x, { training: true })`, as the trainer calls it) BN normalizes with the batch's
 * statistics and updates the moving ones; `predict` (embedImages, evaluation) uses the moving ones.
 */
import * as tf from '../tf';
import { checkDeclared, OptionDecl } from '../util/option-decl';
import { BACKBONE_OPTIONS, BACKBONES, BackboneName, NECK_LAYOUTS, NeckLayout } from './options';

export { BACKBONE_OPTIONS, BACKBONES, NECK_LAYOUTS };
export type { BackboneName, NeckLayout };

export interface BackboneSpec {
  name: BackboneName;
  inputShape: [number, number, number];
  embeddingDim: number;
  /** Channel multiplier for the conv nets (default 1); smaller is faster. */
  width?: number;
  /** Hidden sizes of the MLP (default [256, 128]). */
  hidden?: number[];
  seed?: number;
  /** BatchNorm after every convolution (conv backbones; default false). */
  batchNorm?: boolean;
  /** BN → dropout → dense → BN embedding layer instead of a plain dense one (default false). */
  neck?: boolean;
  /** Dropout rate inside the neck, in [0, 1) (default 0; needs `neck`). */
  dropout?: number;
  /**
   * The reference net's layers from its last pooling to the embedding, with `neck` (reference
   * backbone only; default `'bn-relu'` with `batchNorm`, `'relu-bn'` without). See {@link NeckLayout}.
   */
  neckLayout?: NeckLayout;
}

/**
 * How the reference net goes from its last pooled feature maps to the embedding when it has the
 * BN neck (the last BN's γ is fixed at 1 in each):
 *  - `'bn-relu'`: flatten → dense 128 (no bias) → BN → ReLU → dense → BN. The hidden layer has
 *    its BN before the activation, as the conv blocks do. The default with `batchNorm`.
 *  - `'relu-bn'`: flatten → dense 128 + ReLU → BN → dense → BN: the generic neck after the hidden
 *    layer, so a BN follows a ReLU. margin-lab's layout before 2026-12 (checkpoints written
 *    without a `neckLayout` have it); about 10 points of TAR@1e-4 below `'bn-relu'` for ArcFace
 *    on the glyph benchmark (docs/convergence.md).
 *  - `'bn2d'`: BN over the pooled maps' channels → flatten → dense → BN: insightface's output
 *    layer (iresnet's `bn2` → `fc` → `features`), no hidden dense layer.
 */

/** The neck layout a spec builds: its own, or the default; undefined where none applies. */
export function resolveNeckLayout(spec: BackboneSpec): NeckLayout | undefined {
  if (spec.name !== 'reference' || !spec.neck) return undefined;
  return spec.neckLayout ?? (spec.batchNorm ? 'bn-relu' : 'relu-bn');
}

/** PyTorch's BatchNorm defaults, in tfjs terms (tfjs momentum = 1 − PyTorch momentum). */
export const BN_MOMENTUM = 0.9;
export const BN_EPSILON = 1e-5;

function batchNorm(opts: { name?: string } = {}): tf.layers.Layer {
  return tf.layers.batchNormalization({
    momentum: BN_MOMENTUM,
    epsilon: BN_EPSILON,
    ...(opts.name ? { name: opts.name } : {}),
  });
}

/**
 * The neck's last BN keeps γ = 1: its γ is made non-trainable once built. (tfjs's `scale: false`
 * cannot train: its BatchNormalization reads γ in training mode whether or not it exists.)
 */
function freezeNeckGamma(model: tf.LayersModel, inputShape: [number, number, number]): tf.LayersModel {
  // A Sequential model builds its inner model at the first call, marking every weight trainable
  // again: build it first (an inference call changes no state).
  tf.tidy(() => {
    model.predict(tf.zeros([1, ...inputShape]));
  });
  const last = model.getLayer('embedding') as unknown as { gamma?: { trainable: boolean } };
  if (!last.gamma) throw new Error('backbone: the neck has no final BatchNorm (internal error)');
  last.gamma.trainable = false;
  return model;
}

/**
 * The embedding layers: a plain dense layer, or the BN neck (see the module comment). `leadingBN`
 * false leaves out the neck's first BN (the reference net's 'bn-relu' layout, whose hidden layer
 * has its own BN before the ReLU).
 */
function embeddingLayers(spec: BackboneSpec, seed: number, leadingBN = true): tf.layers.Layer[] {
  const dense = (name?: string) =>
    tf.layers.dense({ units: spec.embeddingDim, kernelInitializer: init(seed, 99), ...(name ? { name } : {}) });
  if (!spec.neck) return [dense('embedding')];
  const layers = leadingBN ? [batchNorm()] : [];
  if ((spec.dropout ?? 0) > 0) layers.push(tf.layers.dropout({ rate: spec.dropout!, seed: seed * 1000 + 98 }));
  // The dense layer keeps its bias: the final BN's β absorbs it, as in insightface (fc, then features).
  layers.push(dense(), batchNorm({ name: 'embedding' }));
  return layers;
}

/** Applies layers in order to a symbolic tensor (functional models). */
function chain(x: tf.SymbolicTensor, layers: tf.layers.Layer[]): tf.SymbolicTensor {
  return layers.reduce((h, l) => l.apply(h) as tf.SymbolicTensor, x);
}

function init(seed: number, k: number) {
  return tf.initializers.glorotUniform({ seed: seed * 1000 + k });
}

function ch(base: number, width: number): number {
  return Math.max(4, Math.round(base * width));
}

/** Multi-layer perceptron on the flattened image. */
export function mlp(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  const layers: tf.layers.Layer[] = [tf.layers.flatten({ inputShape: spec.inputShape })];
  (spec.hidden ?? [256, 128]).forEach((units, i) =>
    layers.push(tf.layers.dense({ units, activation: 'relu', kernelInitializer: init(seed, i) })),
  );
  layers.push(...embeddingLayers(spec, seed));
  return tf.sequential({ layers, name: 'mlp' });
}

/**
 * LeNet++ from the center-loss paper (Wen et al. 2016): three stages of two 5×5 convolutions
 * with PReLU (32, 64, 128 channels) and 2×2 max-pooling, then a linear embedding layer
 * (2-D in the paper, for plotting features directly).
 */
export function lenetPlusPlus(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  const w = spec.width ?? 1;
  const layers: tf.layers.Layer[] = [];
  let k = 0;
  [32, 64, 128].forEach((c, stage) => {
    for (let j = 0; j < 2; j++) {
      layers.push(
        tf.layers.conv2d({
          ...(stage === 0 && j === 0 ? { inputShape: spec.inputShape } : {}),
          filters: ch(c, w),
          kernelSize: 5,
          padding: 'same',
          useBias: !spec.batchNorm,
          kernelInitializer: init(seed, k++),
        }),
      );
      if (spec.batchNorm) layers.push(batchNorm());
      layers.push(tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.25 }) }));
    }
    layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }));
  });
  layers.push(tf.layers.flatten());
  layers.push(...embeddingLayers(spec, seed));
  return tf.sequential({ layers, name: 'lenetpp' });
}

/** A small residual CNN for 28×28 inputs: stem, three residual stages with pooling, global average pool. */
export function smallResNet(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  const w = spec.width ?? 1;
  let k = 0;
  const input = tf.input({ shape: spec.inputShape });
  const conv = (x: tf.SymbolicTensor, filters: number, size: number, activation?: 'relu') => {
    const layers: tf.layers.Layer[] = [
      tf.layers.conv2d({
        filters,
        kernelSize: size,
        padding: 'same',
        useBias: !spec.batchNorm,
        kernelInitializer: init(seed, k++),
      }),
    ];
    if (spec.batchNorm) layers.push(batchNorm());
    if (activation) layers.push(tf.layers.activation({ activation }));
    return chain(x, layers);
  };
  let x = conv(input, ch(16, w), 3, 'relu');
  for (const c of [16, 32, 64].map((v) => ch(v, w))) {
    const shortcut = x.shape[3] === c ? x : conv(x, c, 1);
    const h = conv(conv(x, c, 3, 'relu'), c, 3);
    x = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([h, shortcut])) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = chain(x, embeddingLayers(spec, seed));
  return tf.model({ inputs: input, outputs: out, name: 'resnet' });
}

/**
 * The benchmark's reference model: conv 32 (3×3) → max-pool → conv 64 (3×3) → max-pool →
 * dense 128 → embedding; with the neck, as its `neckLayout` says.
 */
export function referenceNet(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  const bn = spec.batchNorm ?? false;
  const convBlock = (filters: number, k: number, first: boolean): tf.layers.Layer[] => [
    tf.layers.conv2d({
      ...(first ? { inputShape: spec.inputShape } : {}),
      filters,
      kernelSize: 3,
      padding: 'same',
      activation: bn ? undefined : 'relu',
      useBias: !bn,
      kernelInitializer: init(seed, k),
    }),
    ...(bn ? [batchNorm(), tf.layers.activation({ activation: 'relu' })] : []),
    tf.layers.maxPooling2d({ poolSize: 2 }),
  ];
  const layout = resolveNeckLayout(spec);
  const hidden: tf.layers.Layer[] =
    layout === 'bn2d'
      ? [batchNorm(), tf.layers.flatten()]
      : layout === 'bn-relu'
        ? [
            tf.layers.flatten(),
            tf.layers.dense({ units: 128, useBias: false, kernelInitializer: init(seed, 2) }),
            batchNorm(),
            tf.layers.activation({ activation: 'relu' }),
          ]
        : [tf.layers.flatten(), tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(seed, 2) })];
  return tf.sequential({
    name: 'reference',
    layers: [
      ...convBlock(32, 0, true),
      ...convBlock(64, 1, false),
      ...hidden,
      ...embeddingLayers(spec, seed, layout === undefined || layout === 'relu-bn'),
    ],
  });
}

/** Builds a backbone from its spec (what checkpoints store). */
export function buildBackbone(spec: BackboneSpec): tf.LayersModel {
  if (!(BACKBONES as readonly string[]).includes(spec.name)) {
    throw new Error(`unknown backbone ${JSON.stringify(spec.name)}; expected one of ${BACKBONES.join(', ')}`);
  }
  // Each field against its declaration (src/models/options.ts), then the combinations.
  const fields = spec as unknown as Record<string, unknown>;
  for (const [key, decl] of Object.entries(BACKBONE_OPTIONS) as Array<[string, OptionDecl]>) {
    if (key === 'name' || (fields[key] === undefined && decl.checkpoint !== 'required')) continue;
    checkDeclared(`backbone ${spec.name}: `, key, decl, fields[key]);
  }
  if (spec.batchNorm && spec.name === 'mlp')
    throw new Error(
      'backbone mlp: batchNorm adds BN after convolutions and the MLP has none; use neck for its embedding',
    );
  if (spec.neckLayout !== undefined && (spec.name !== 'reference' || !spec.neck))
    throw new Error(
      `backbone ${spec.name}: neckLayout ${JSON.stringify(spec.neckLayout)} applies to the reference backbone with neck: true only${spec.name === 'reference' ? '; give neck: true too' : ''}`,
    );
  if (spec.dropout !== undefined && spec.dropout > 0 && !spec.neck)
    throw new Error(`backbone ${spec.name}: dropout ${spec.dropout} applies inside the BN neck; give neck: true too`);
  const model =
    spec.name === 'mlp'
      ? mlp(spec)
      : spec.name === 'lenetpp'
        ? lenetPlusPlus(spec)
        : spec.name === 'resnet'
          ? smallResNet(spec)
          : referenceNet(spec);
  return spec.neck ? freezeNeckGamma(model, spec.inputShape) : model;
}
