/**
 * How to run a margin-lab command from where this process runs, for messages that name one: in
 * margin-lab's own repository its npm scripts (`npm run train -- …`), in a user's project the
 * package's bin (`npx margin-lab train …`), since a user's project has no such scripts.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The name in the nearest package.json at or above `dir`, or undefined. */
function nearestPackageName(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const file = path.join(d, 'package.json');
    if (fs.existsSync(file)) {
      try {
        const name = (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown }).name;
        return typeof name === 'string' ? name : undefined;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

/** Whether `cwd` is inside margin-lab's own repository (its nearest package.json is margin-lab's). */
export function inRepository(cwd: string = process.cwd()): boolean {
  return nearestPackageName(cwd) === 'margin-lab';
}

/**
 * The command line that runs `command` (train, eval, embed, export, demo, benchmark, bench,
 * doctor) with `args` here: `npm run train -- --run x` in the repository, `npx margin-lab train
 * --run x` elsewhere.
 */
export function commandLine(command: string, args = '', cwd: string = process.cwd()): string {
  if (inRepository(cwd)) return `npm run ${command}${args ? ` -- ${args}` : ''}`;
  return `npx margin-lab ${command}${args ? ` ${args}` : ''}`;
}
