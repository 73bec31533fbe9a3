/**
 * The open-set benchmark behind `npm run benchmark`: configuration (config.ts), running and
 * resuming the (loss, seed) runs (run.ts), tables (report.ts) and figures (figures.ts). The
 * metrics themselves are evaluation (src/eval/open-set.ts).
 */
export * from './config';
export * from './run';
export * from './report';
export * from './figures';
