/**
 * danfojs-node, loaded when a DataFrame is asked for. It is an optional dependency: from the npm
 * registry it pulls in @tensorflow/tfjs-node (which downloads libtensorflow while installing) and
 * an xlsx build from a CDN, so an offline install skips it. margin-lab's own checkout installs it
 * with npm `overrides` (see README); everything except the DataFrame helpers works without it.
 */
export function requireDanfo(what: string): typeof import('danfojs-node') {
  try {
    return require('danfojs-node') as typeof import('danfojs-node');
  } catch (e) {
    throw new Error(
      `${what} needs danfojs-node, which is not installed (${(e as Error).message.split('\n')[0]}). ` +
        'Install it with the overrides in margin-lab\'s package.json ("overrides": {"danfojs-node": {"@tensorflow/tfjs-node": ..., "xlsx": "0.18.5"}}), or read the plain arrays instead.',
    );
  }
}
