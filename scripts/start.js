#!/usr/bin/env node
// `npm start`: opens the workbook in JupyterLab on notebooks/, with the project-local margin-lab
// TypeScript kernel on JUPYTER_PATH. Lab is looked for in ./.venv-lab, ./.venv and on PATH; when
// none has it, .venv-lab is made with the pinned JupyterLab and plotly CI uses (one line says so).
// Only when that cannot be done (no `python3 -m venv`, no package index) does it open the classic
// Notebook, saying why and what would fix it. MARGIN_LAB_JUPYTER=PATH picks the jupyter to use.
// Ctrl-C stops Jupyter cleanly, kernels included.
// Extra arguments go to Jupyter: `npm start -- --port 9999 --no-browser`.
const { spawnSync, spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const {
  ROOT,
  jupyterEnv,
  writeKernelspec,
  jupyterCandidates,
  findJupyterLab,
  linkSelf,
  LAB_VENV,
  LAB_PINS,
} = require('./lib/project');

const rel = path.relative(process.cwd(), LAB_VENV) || '.venv-lab';
const fix = `python3 -m venv ${rel} && ${rel}/bin/pip install ${LAB_PINS.join(' ')}`;

/** Makes .venv-lab with the pinned JupyterLab; returns null, or why it could not. */
function installLab() {
  const python = process.env.MARGIN_LAB_VENV_PYTHON || 'python3';
  console.log(
    `margin-lab: no JupyterLab found (in ${rel}, .venv or on PATH); installing ${LAB_PINS.join(' and ')} into ${rel} (once; a minute or two)`,
  );
  const venv = spawnSync(python, ['-m', 'venv', LAB_VENV], { encoding: 'utf8' });
  if (venv.status !== 0)
    return `${python} -m venv failed (${(venv.stderr || String(venv.error)).trim().split('\n').pop()}; on Debian/Ubuntu: sudo apt-get install python3-venv)`;
  const pip = spawnSync(
    path.join(LAB_VENV, 'bin', 'pip'),
    ['install', '-q', '--retries', '0', '--timeout', '5', ...LAB_PINS],
    { encoding: 'utf8' },
  );
  if (pip.status !== 0) {
    // A venv without Lab would be found next time and fail the same way: take it away.
    fs.rmSync(LAB_VENV, { recursive: true, force: true });
    return `pip could not install them (${(pip.stderr || String(pip.error)).trim().split('\n').pop()}): is the package index reachable?`;
  }
  return null;
}

function main() {
  linkSelf();
  writeKernelspec();
  const env = jupyterEnv();
  let lab = findJupyterLab(env);
  let why = null;
  if (!lab && process.env.MARGIN_LAB_JUPYTER) {
    why = `MARGIN_LAB_JUPYTER names ${process.env.MARGIN_LAB_JUPYTER}, which has no JupyterLab`;
  } else if (!lab) {
    why = installLab();
    if (!why) lab = findJupyterLab(env);
    if (!why && !lab) why = `${rel} was made, but its jupyter does not start Lab`;
  }
  let bin;
  let app;
  let version;
  if (lab) {
    [bin, app, version] = [lab.bin, 'lab', lab.version];
  } else {
    const nb = jupyterCandidates()
      .map((b) => [b, spawnSync(b, ['notebook', '--version'], { env, encoding: 'utf8' })])
      .find(([, r]) => r.status === 0);
    if (!nb) {
      console.error(
        `margin-lab: no JupyterLab, and it could not be installed: ${why}. No classic Notebook either. Install Lab with: ${fix} (or, on Debian/Ubuntu, the classic Notebook: sudo apt-get install jupyter-notebook)`,
      );
      process.exit(2);
    }
    [bin, app, version] = [nb[0], 'notebook', nb[1].stdout.trim()];
    console.log(
      `margin-lab: JupyterLab could not be installed: ${why}; opening the classic Notebook instead. For Lab: ${fix}`,
    );
  }
  const args = [app, `--notebook-dir=${path.join(ROOT, 'notebooks')}`, ...process.argv.slice(2)];
  // Jupyter refuses to start as root ("Running as root is not recommended"); in a container that is
  // the normal case, so say so and pass --allow-root rather than dying.
  if (typeof process.getuid === 'function' && process.getuid() === 0 && !args.includes('--allow-root')) {
    args.push('--allow-root');
    console.log('margin-lab: running as root (a container?), so passing --allow-root to Jupyter');
  }
  console.log(`margin-lab: starting jupyter ${app} ${version} (${bin}) with kernel "TypeScript (margin-lab)"`);
  // Jupyter runs in its own process group: a terminal's Ctrl-C reaches this process only, which
  // then asks Jupyter to shut down (SIGTERM: it stops its kernels and exits) instead of Jupyter's
  // own Ctrl-C prompt and KeyboardInterrupt traceback.
  const child = spawn(bin, args, { env, stdio: 'inherit', cwd: path.join(ROOT, 'notebooks'), detached: true });
  let stopping = false;
  const stop = (sig) => {
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch (_) {}
      process.exit(130);
    }
    stopping = true;
    console.log(`\nmargin-lab: stopping Jupyter (${sig}) and its kernels…`);
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch (_) {}
  };
  process.on('SIGINT', () => stop('Ctrl-C'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  child.on('exit', (code, signal) => {
    if (stopping) console.log('margin-lab: Jupyter stopped');
    process.exit(stopping ? 0 : (code ?? (signal ? 1 : 0)));
  });
}

main();
