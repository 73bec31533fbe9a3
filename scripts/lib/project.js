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

/** The project's JupyterLab venv (the one name the README, doctor, CI and .gitignore use). */
const LAB_VENV = path.join(ROOT, '.venv-lab');
/** What `npm start` installs there when no JupyterLab is found: the versions CI tests with. */
const LAB_PINS = ['jupyterlab==4.6.4', 'plotly==7.1.0'];

/**
 * The `jupyter` commands that may hold JupyterLab, in order: MARGIN_LAB_JUPYTER alone when set
 * (a choice, or a test's stand-in), else the project's venvs (.venv-lab, .venv), then PATH's.
 */
function jupyterCandidates(env = process.env) {
  if (env.MARGIN_LAB_JUPYTER) return [env.MARGIN_LAB_JUPYTER];
  const which = spawnSync('sh', ['-c', 'command -v jupyter'], { encoding: 'utf8', env }).stdout.trim();
  const list = [path.join(LAB_VENV, 'bin', 'jupyter'), path.join(ROOT, '.venv', 'bin', 'jupyter'), which];
  return [...new Set(list.filter((b) => b && fs.existsSync(b)))];
}

/** Path and version of the `jupyter` command on PATH (what `jupyter …` in a terminal runs), or null. */
function findJupyter() {
  const bin = spawnSync('sh', ['-c', 'command -v jupyter'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) return null;
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return { bin, version: (v.stdout || v.stderr).trim() };
}

/** The first `jupyter` that has JupyterLab, with Lab's version, or null. */
function findJupyterLab(env = process.env) {
  for (const bin of jupyterCandidates(env)) {
    const r = spawnSync(bin, ['lab', '--version'], { env, encoding: 'utf8' });
    if (r.status === 0) return { bin, version: r.stdout.trim() };
  }
  return null;
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
  findJupyterLab,
  jupyterCandidates,
  LAB_VENV,
  LAB_PINS,
};
