// danfojs-node imports '@tensorflow/tfjs-node' for its tensors. The real package needs a native
// libtensorflow download; this stand-in hands danfo the project's own @tensorflow/tfjs instead,
// so a danfo column's `.tensor` is a tensor of the same tfjs-core (and backend) that margin-lab uses.
module.exports = require('@tensorflow/tfjs');
