/** A small learnable problem for training tests: 4 classes of side×side images, each a noisy template. */
import * as ml from 'margin-lab';

export function toyImages(n: number, seed: number, side: number): ml.TrainData {
  const r = new ml.Rng(seed);
  const px = side * side;
  const templates = Array.from({ length: 4 }, () => Array.from({ length: px }, () => r.next()));
  const x = new Float32Array(n * px);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let k = 0; k < px; k++) x[i * px + k] = templates[y[i]][k] + 0.3 * (r.next() - 0.5);
  }
  return { x, y, shape: [side, side, 1] };
}
