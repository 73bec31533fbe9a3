/**
 * margin-lab: open-set recognition losses, data, training, evaluation and plots on TensorFlow.js.
 *
 * `tf` is re-exported so notebooks and user code share the one tfjs-core instance that the
 * backends are registered on.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export * from './backend';
export * from './plot';
export { inNotebook, displayBundle, LiveDisplay } from './util/notebook';
export { writeFileAtomic, DiskFullError } from './util/fs';
export type { WriteAtomicOptions } from './util/fs';
export * from './losses';
export * from './data';
export * from './models';
export * from './train';
export * from './eval';
export { Rng } from './util/random';
export * from './workbook';
export {
  runOpenSetBenchmark,
  openSetMetrics,
  summarize as summarizeBenchmark,
  summaryMarkdown as benchmarkMarkdown,
  benchmarkBars,
  benchmarkRocs,
  benchmarkFrame,
  loadBenchmarkResults,
  glyphContactSheet,
  CORE_LOSSES,
  EXTRA_LOSSES,
} from './eval/open-set-benchmark';
export type { BenchmarkConfig, RunResult as BenchmarkRunResult } from './eval/open-set-benchmark';
