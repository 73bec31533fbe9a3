/**
 * One kernel change for the `tensorflow` backend (tfjs-node on libtensorflow): ReLU's gradient as
 * libtensorflow's own `ReluGrad` op.
 *
 * tfjs-core writes ReLU's gradient as `dy · step(x)`, and tfjs-node 4.22 builds `Step` from six
 * full-size ops (IsNan, Greater, a tensor of ones, Fill, Where, Select). A profile of one
 * training step of the reference net on 2 cores (bench --profile) put Step, Select and Fill at
 * 30 of its 84 ms of kernel time, for three ReLUs. `ReluGrad(dy, x)` is one fused op that computes
 * `dy` where `x > 0` and 0 elsewhere.
 *
 * The only difference: where a feature is NaN, tfjs's gradient is NaN and ReluGrad's is 0. A NaN
 * feature makes the loss NaN, which the trainer already refuses (TrainingDivergedError), so no
 * update ever depends on it. Every other backend keeps tfjs's gradient: the replacement checks the
 * active backend on every call. Tested against tfjs's own gradient in test/native.test.ts.
 */
import * as tf from '../tf';

const KERNEL = 'MarginLabReluGrad';
let registered = false;

interface NodeBackend {
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.TensorInfo[]): tf.TensorInfo;
}

/** Registers the fused ReLU gradient (idempotent). Call once tfjs-node has loaded. */
export function registerTensorflowKernels(): void {
  if (registered) return;
  // Loaded only here: this module is imported whatever the backend, tfjs-node only when it is used.
  const { createTensorsTypeOpAttr } = require('@tensorflow/tfjs-node/dist/nodejs_kernel_backend') as {
    createTensorsTypeOpAttr: (name: string, dtype: tf.DataType) => unknown;
  };
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      return (backend as unknown as NodeBackend).executeSingleOutput(
        'ReluGrad',
        [createTensorsTypeOpAttr('T', 'float32')],
        [dy, x],
      );
    },
  });
  const stock = tf.getGradient('Relu');
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      if (tf.getBackend() !== 'tensorflow' || x.dtype !== 'float32' || d.dtype !== 'float32')
        return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(KERNEL, { dy: d, x }) as tf.Tensor };
    },
  });
  registered = true;
}

/** The ReLU gradient tfjs-core itself registers, for tests that compare. */
export function stockReluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(dy, tf.cast(tf.step(x), 'float32')));
}
