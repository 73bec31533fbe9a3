/**
 * `UnsortedSegmentSum` for the wasm backend, which tfjs-backend-wasm 4.22 lacks. It is the
 * gradient of `tf.gather`, so without it any model that gathers (embedding lookups, picking
 * class weights by label) cannot train on wasm. Computed on the host: segment sums are
 * memory-bound and cheap next to the matrix work around them.
 */
import * as tf from '../tf';

interface WasmLike {
  readSync(dataId: unknown): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: ArrayLike<number>): tf.TensorInfo;
}

function unsortedSegmentSum(args: {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  const backend = args.backend as WasmLike;
  const numSegments = Number((args.attrs ?? {}).numSegments);
  if (!(Number.isInteger(numSegments) && numSegments >= 0))
    throw new Error(`UnsortedSegmentSum on wasm: numSegments must be a non-negative integer, got ${numSegments}`);
  const idsRank = segmentIds.shape.length;
  for (let i = 0; i < idsRank; i++) {
    if (segmentIds.shape[i] !== x.shape[i]) {
      throw new Error(
        `UnsortedSegmentSum on wasm: segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of x shape [${x.shape.join(', ')}]`,
      );
    }
  }
  const inner = x.shape.slice(idsRank).reduce((a, b) => a * b, 1);
  const xs = backend.readSync(x.dataId);
  const ids = backend.readSync(segmentIds.dataId);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // TensorFlow drops out-of-range ids
    for (let k = 0; k < inner; k++) out[s * inner + k] += xs[i * inner + k];
  }
  return backend.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype, undefined, out);
}

/** Registers UnsortedSegmentSum on wasm unless the backend already has it (idempotent). */
export function registerWasmSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
  });
}
