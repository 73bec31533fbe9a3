// Shared helpers for the project's scripts (postinstall, start, doctor, notebook runner).
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const JUPYTER_DATA = path.join(ROOT, '.jupyter', 'data');
const KERNEL_NAME = 'margin-lab-ts';
const KERNEL_DIR = path.join(JUPYTER_DATA, 'kernels', KERNEL_NAME);

/** Symlink node_modules/margin-lab to the project root (idempotent). */
function linkSelf() {
  const link = path.join(ROOT, 'node_modules', 'margin-lab');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  try {
    const st = fs.lstatSync(link);
    if (st.isSymbolicLink() && path.resolve(path.dirname(link), fs.readlinkSync(link)) === ROOT) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch (_) {
    /* not there yet */
  }
  fs.symlinkSync('..', link, 'dir');
}

/** Write the tslab kernelspec into the project-local Jupyter data dir; returns its folder. */
function writeKernelspec() {
  const tslabBin = path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab');
  if (!fs.existsSync(tslabBin)) throw new Error(`tslab is not installed (${tslabBin} missing): run npm install`);
  fs.mkdirSync(KERNEL_DIR, { recursive: true });
  const spec = {
    argv: [process.execPath, tslabBin, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (margin-lab)',
    language: 'typescript',
    env: { MARGIN_LAB_ROOT: ROOT },
  };
  fs.writeFileSync(path.join(KERNEL_DIR, 'kernel.json'), JSON.stringify(spec, null, 2) + '\n');
  // The logo Jupyter shows beside the kernel's name (launcher, kernel picker).
  for (const f of ['logo-32x32.png', 'logo-64x64.png', 'logo-svg.svg'])
    fs.copyFileSync(path.join(__dirname, 'kernel-logo', f), path.join(KERNEL_DIR, f));
  return KERNEL_DIR;
}

/** Environment for Jupyter processes: our kernelspec first on JUPYTER_PATH. */
function jupyterEnv(base = process.env) {
  const sep = path.delimiter;
  const jp = base.JUPYTER_PATH ? JUPYTER_DATA + sep + base.JUPYTER_PATH : JUPYTER_DATA;
  return { ...base, JUPYTER_PATH: jp };
}

/** First python that can import the given module, or null. */
function findPython(module = 'nbclient') {
  const candidates = [process.env.MARGIN_LAB_PYTHON, '/usr/bin/python3', 'python3', 'python'].filter(Boolean);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

/** Path and version of the `jupyter` command, or null. */
function findJupyter() {
  const which = spawnSync('sh', ['-c', 'command -v jupyter'], { encoding: 'utf8' });
  const bin = which.stdout.trim();
  if (!bin) return null;
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return { bin, version: (v.stdout || v.stderr).trim() };
}

/** Prints lines `from`..`to` (0-based, end excluded) of a script's leading // comment: its --help. */
function printHeaderHelp(file, from, to) {
  console.log(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .slice(from, to)
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  );
}

module.exports = {
  printHeaderHelp,
  ROOT,
  JUPYTER_DATA,
  KERNEL_NAME,
  KERNEL_DIR,
  linkSelf,
  writeKernelspec,
  jupyterEnv,
  findPython,
  findJupyter,
};
