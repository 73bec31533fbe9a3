import * as path from 'path';
import { spawnSync, SpawnSyncReturns } from 'child_process';

/** Project root (tests run from build/test). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');

/** Runs the notebook runner on the given notebooks; returns the finished process. */
export function runNotebooks(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-notebooks.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, MARGIN_LAB_QUICK: '1', ...env },
    timeout: 600_000,
  });
}
