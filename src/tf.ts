/**
 * TensorFlow.js, the one place margin-lab imports it from. It is the `@tensorflow/tfjs` umbrella:
 * its Node build is the only CommonJS build that registers every gradient and the chained ops
 * (`t.square()`), which tfjs-core's own Node build leaves out. The wasm, webgpu and tensorflow
 * backends register themselves on the same tfjs-core (src/backend).
 */
export * from '@tensorflow/tfjs';
