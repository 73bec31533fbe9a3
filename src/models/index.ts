/**
 * Backbones that map an image to an embedding. All use stride-1 convolutions with max-pooling
 * for downsampling, so they train on every backend (wasm included). Each factory takes a seed
 * for reproducible initial weights and returns a tf.LayersModel whose output is the embedding
 * (linear, not normalized — the loss decides whether to normalize).
 */
import * as tf from '@tensorflow/tfjs';

export type BackboneName = 'mlp' | 'lenetpp' | 'resnet' | 'reference';
export const BACKBONES: readonly BackboneName[] = ['mlp', 'lenetpp', 'resnet', 'reference'];

export interface BackboneSpec {
  name: BackboneName;
  inputShape: [number, number, number];
  embeddingDim: number;
  /** Channel multiplier for the conv nets (default 1); smaller is faster. */
  width?: number;
  /** Hidden sizes of the MLP (default [256, 128]). */
  hidden?: number[];
  seed?: number;
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
  layers.push(tf.layers.dense({ units: spec.embeddingDim, kernelInitializer: init(seed, 99), name: 'embedding' }));
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
          kernelInitializer: init(seed, k++),
        }),
      );
      layers.push(tf.layers.prelu({ alphaInitializer: tf.initializers.constant({ value: 0.25 }) }));
    }
    layers.push(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }));
  });
  layers.push(tf.layers.flatten());
  layers.push(tf.layers.dense({ units: spec.embeddingDim, kernelInitializer: init(seed, 99), name: 'embedding' }));
  return tf.sequential({ layers, name: 'lenetpp' });
}

/** A small residual CNN for 28×28 inputs: stem, three residual stages with pooling, global average pool. */
export function smallResNet(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  const w = spec.width ?? 1;
  let k = 0;
  const input = tf.input({ shape: spec.inputShape });
  const conv = (x: tf.SymbolicTensor, filters: number, size: number, activation?: 'relu') =>
    tf.layers
      .conv2d({ filters, kernelSize: size, padding: 'same', activation, kernelInitializer: init(seed, k++) })
      .apply(x) as tf.SymbolicTensor;
  let x = conv(input, ch(16, w), 3, 'relu');
  for (const c of [16, 32, 64].map((v) => ch(v, w))) {
    const shortcut = x.shape[3] === c ? x : conv(x, c, 1);
    const h = conv(conv(x, c, 3, 'relu'), c, 3);
    x = tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([h, shortcut])) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: spec.embeddingDim, kernelInitializer: init(seed, 99), name: 'embedding' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'resnet' });
}

/**
 * The benchmark's reference model: conv 32 (3×3) → max-pool → conv 64 (3×3) → max-pool →
 * dense 128 → embedding.
 */
export function referenceNet(spec: BackboneSpec): tf.LayersModel {
  const seed = spec.seed ?? 1;
  return tf.sequential({
    name: 'reference',
    layers: [
      tf.layers.conv2d({
        inputShape: spec.inputShape,
        filters: 32,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(seed, 0),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({
        filters: 64,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(seed, 1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(seed, 2) }),
      tf.layers.dense({ units: spec.embeddingDim, kernelInitializer: init(seed, 99), name: 'embedding' }),
    ],
  });
}

/** Builds a backbone from its spec (what checkpoints store). */
export function buildBackbone(spec: BackboneSpec): tf.LayersModel {
  if (!(BACKBONES as readonly string[]).includes(spec.name)) {
    throw new Error(`unknown backbone ${JSON.stringify(spec.name)}; expected one of ${BACKBONES.join(', ')}`);
  }
  if (!(Number.isInteger(spec.embeddingDim) && spec.embeddingDim >= 1))
    throw new Error(`embeddingDim must be a positive integer, got ${spec.embeddingDim}`);
  switch (spec.name) {
    case 'mlp':
      return mlp(spec);
    case 'lenetpp':
      return lenetPlusPlus(spec);
    case 'resnet':
      return smallResNet(spec);
    case 'reference':
      return referenceNet(spec);
  }
}
