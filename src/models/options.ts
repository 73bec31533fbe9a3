/**
 * The backbone's options, declared once (see src/util/option-decl.ts): `buildBackbone` checks a
 * spec against them, the train command derives its flags from them, and the checkpoint schema
 * checks a stored `backbone` with them.
 */
import type { OptionDecl } from '../util/option-decl';

export type BackboneName = 'mlp' | 'lenetpp' | 'resnet' | 'reference';
export const BACKBONES: readonly BackboneName[] = ['mlp', 'lenetpp', 'resnet', 'reference'];

export type NeckLayout = 'bn-relu' | 'relu-bn' | 'bn2d';
export const NECK_LAYOUTS: readonly NeckLayout[] = ['bn-relu', 'relu-bn', 'bn2d'];

/** Every BackboneSpec field but the input shape (the data's), declared. */
export const BACKBONE_OPTIONS = {
  name: {
    type: 'enum',
    values: BACKBONES,
    help: `backbone: ${BACKBONES.join(', ')}`,
    cliDefault: 'reference',
    flag: 'backbone',
    checkpoint: 'required',
  },
  embeddingDim: {
    type: 'number',
    range: { int: true, min: 1, max: 4096 },
    why: 'the papers use 128–512; larger embeddings only cost memory',
    help: 'embedding dimension',
    cliDefault: '64',
    flag: 'dim',
    checkpoint: 'required',
  },
  width: {
    type: 'number',
    range: { min: 0.01, max: 64 },
    default: 1,
    help: 'channel multiplier of the conv backbones lenetpp and resnet (each layer keeps at least 4 channels)',
    flag: 'width',
    checkpoint: 'optional',
  },
  hidden: {
    type: 'intList',
    range: { min: 1, max: 65_536 },
    default: [256, 128],
    help: 'hidden layer sizes of the mlp backbone',
    checkpoint: 'optional',
  },
  seed: {
    type: 'number',
    range: { int: true, min: 0 },
    default: 0,
    help: 'seed of the initial weights',
    checkpoint: 'optional',
  },
  batchNorm: {
    type: 'boolean',
    default: false,
    help: 'BatchNorm after every convolution (conv backbones)',
    flag: 'bn',
    checkpoint: 'optional',
  },
  neck: {
    type: 'boolean',
    default: false,
    help: 'BN → dropout → dense → BN embedding layer (the face-recognition neck)',
    flag: 'neck',
    checkpoint: 'optional',
  },
  neckLayout: {
    type: 'enum',
    values: NECK_LAYOUTS,
    help: `the reference backbone's layers between its conv blocks and the embedding, with the neck: ${NECK_LAYOUTS.join(', ')} (default bn-relu with BatchNorm, relu-bn without)`,
    flag: 'neck-layout',
    checkpoint: 'optional',
  },
  dropout: {
    type: 'number',
    range: { min: 0, max: 1, maxOpen: true },
    default: 0,
    help: 'dropout rate inside the neck (needs the neck)',
    flag: 'dropout',
    checkpoint: 'optional',
  },
} as const satisfies Record<string, OptionDecl>;
