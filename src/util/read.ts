/**
 * Reading a computed tensor into JS without a slow `tf.tidy` return.
 *
 * `tf.tidy(() => t.dataSync())` looks harmless, but tidy walks whatever its function returns,
 * element by element, looking for tensors to keep: a returned Float32Array of a million floats
 * costs about 0.9 s on any backend (measured with tfjs 4.22 on libtensorflow: 873 ms, against
 * 3.5 ms for the same add and read with the read outside the tidy). `tidyRead` computes in a
 * tidy, returns the tensor out of it (one object to walk), reads it, and disposes it.
 */
import * as tf from '../tf';

/** Runs `f` in a tidy and returns its result's values (synchronous read). */
export function tidyRead(f: () => tf.Tensor): Float32Array | Int32Array | Uint8Array {
  const t = tf.tidy(f);
  try {
    return t.dataSync() as Float32Array | Int32Array | Uint8Array;
  } finally {
    t.dispose();
  }
}

/**
 * Whether `dataSync()` works on any tensor: false on webgpu in Node, where it works only on values
 * already read with `await t.data()`. The one place losses and the trainer ask (they do not import
 * backend code); code that must read mid-computation checks this and says so.
 */
export function readSyncAvailable(): boolean {
  return (
    tf.getBackend() !== 'webgpu' || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined'
  );
}

/** Makes the values of `tensors` readable with `dataSync()` afterwards, on every backend. */
export async function readable(tensors: tf.Tensor[]): Promise<void> {
  if (!readSyncAvailable()) await Promise.all(tensors.map((t) => t.data()));
}
