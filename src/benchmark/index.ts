/**
 * The open-set benchmark behind `npm run benchmark`: configuration (config.ts), running and
 * resuming the (loss, seed) runs (run.ts), tables (report.ts); its figures are in src/plot/benchmark.ts. The
 * metrics themselves are evaluation (src/eval/open-set.ts).
 */
export * from './config';
export * from './run';
export * from './report';
// Its figures are plots (src/plot/benchmark.ts).
export * from '../plot/benchmark';
