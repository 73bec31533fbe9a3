/**
 * The course's flagship figures' settings: the normalized heads, each with the scale and margin
 * the notebooks draw features around their class weights with (2-D and 3-D embeddings of MNIST
 * digits). `npm run flagship` (src/cli/flagship.ts) measures them.
 */
import { arcFace, ClassifierHead, cosFace, curricularFace, HeadOptions, normFace, sphereFace } from '../losses';

/** The heads of the flagship figures, with the settings the notebooks draw them with. */
export const FLAGSHIP_HEADS: Record<string, (base: HeadOptions) => ClassifierHead> = {
  normface: (base) => normFace({ ...base, s: 10 }),
  sphereface: (base) => sphereFace({ ...base, m: 4, schedule: { gamma: 2 } }),
  cosface: (base) => cosFace({ ...base, s: 10, m: 0.2 }),
  arcface: (base) => arcFace({ ...base, s: 10, m: 0.3 }),
  curricularface: (base) => curricularFace({ ...base, s: 10, m: 0.3 }),
};
