#!/usr/bin/env node
/**
 * `npx margin-lab <command> [flags]`: the package's command line, for a user's project (in this
 * repository the same commands are npm scripts: `npm run train -- …`). Each command runs its
 * tool in a child process with the flags passed through; its exit status is this one's.
 */
import * as path from 'path';
import { spawn } from 'child_process';

const ROOT = path.resolve(__dirname, '..', '..');

interface Command {
  /** The script, relative to the package root. */
  file: string;
  /** Flags the command adds before the user's. */
  args?: string[];
  help: string;
}

export const COMMANDS: Record<string, Command> = {
  train: { file: 'dist/cli/train.js', help: 'train a backbone with a loss on an open-set split; writes a run folder' },
  eval: { file: 'dist/cli/eval.js', help: 'open-set metrics of a run on its unseen classes' },
  embed: { file: 'dist/cli/embed.js', help: 'embeddings and labels of a split, as CSV or JSON' },
  export: { file: 'dist/cli/export.js', help: 'a run as a TF.js model bundle (model.json, weights, meta.json)' },
  demo: { file: 'dist/cli/export.js', args: ['--demo'], help: '… and a page that runs it in the browser' },
  benchmark: { file: 'dist/cli/benchmark.js', help: 'every loss the same way on unseen Hangul syllables' },
  bench: { file: 'dist/cli/bench.js', help: 'time a training step per backend, and PyTorch where it is installed' },
  doctor: { file: 'scripts/doctor.js', help: 'what is installed and which backend runs: paste it into a bug report' },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.help}`);
  return `usage: npx margin-lab <command> [flags]   (npx margin-lab <command> --help lists a command's flags)\n\n${rows.join('\n')}`;
}

function main(): void {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    process.exit(name === undefined ? 2 : 0);
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `margin-lab: unknown command ${JSON.stringify(name)}; expected one of ${Object.keys(COMMANDS).join(', ')}\n\n${usage()}`,
    );
    process.exit(2);
  }
  const child = spawn(process.execPath, [path.join(ROOT, command.file), ...(command.args ?? []), ...rest], {
    stdio: 'inherit',
  });
  // Ctrl-C reaches the child from the terminal (same process group): wait for it to stop cleanly.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)));
}

if (require.main === module) main();
