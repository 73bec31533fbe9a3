"""Execute margin-lab notebooks headlessly in fresh tslab kernels (nbclient).

Why not plain `jupyter nbconvert --execute`: tslab reports a failing cell to the client with an
empty error message, and it only *logs* errors that happen outside a cell's await (unhandled
promise rejections, throws in callbacks). This runner
  * injects a first cell that records such errors and a last cell that fails if any were seen,
  * prints, for a failing cell: the notebook, the cell's source and the kernel's stderr/error
    output (where tslab puts the real message),
  * optionally exports each executed notebook to HTML (without the injected cells).
Exit status: 0 when every notebook ran clean, 1 otherwise.
"""
import argparse
import copy
import glob
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError, CellTimeoutError

KERNEL = "margin-lab-ts"
MARKER = "margin-lab-runner"

GUARD_SOURCE = """// injected by the margin-lab notebook runner: record errors tslab would only log
{
  const g = globalThis as any;
  if (!g.__marginLabLogged) {
    g.__marginLabLogged = [];
    const rec = (kind: string) => (e: any) => g.__marginLabLogged.push(kind + ': ' + ((e && e.stack) || String(e)));
    process.on('unhandledRejection', rec('unhandled promise rejection'));
    process.on('uncaughtException', rec('uncaught exception'));
  }
}"""

CHECK_SOURCE = """// injected by the margin-lab notebook runner: fail on errors logged outside cells
await new Promise((r) => setTimeout(r, 300));
{
  const logged = (globalThis as any).__marginLabLogged as string[];
  if (logged.length) throw new Error('errors thrown outside a cell (tslab only logs these):\\n' + logged.join('\\n'));
}"""

LOGGED_MARKERS = ("UnhandledPromiseRejection:", "UncaughtException:")


def injected(source):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata[MARKER] = True
    return cell


class TrackingClient(NotebookClient):
    """Remembers which cell is running so a failure can be reported precisely."""

    current_index = None

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        self.current_index = cell_index
        return await super().async_execute_cell(cell, cell_index, *args, **kwargs)


def cell_text_outputs(cell):
    """(stdout, stderr, errors) text of a cell's outputs."""
    out, err, errors = [], [], []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            (err if o.get("name") == "stderr" else out).append(o.get("text", ""))
        elif o.get("output_type") == "error":
            tb = "\n".join(o.get("traceback", []))
            errors.append(f"{o.get('ename', '')}: {o.get('evalue', '')}\n{tb}".strip())
    return "".join(out), "".join(err), errors


def report_failure(path, nb, index, headline, header=True):
    cell = nb.cells[index] if index is not None and index < len(nb.cells) else None
    if header:
        print(f"\n=== FAILED: {path}", file=sys.stderr)
    print(f"--- {headline}", file=sys.stderr)
    if cell is None:
        return
    label = "runner check cell" if cell.metadata.get(MARKER) else f"cell {index - 1} (0-based, in the notebook file)"
    print(f"--- {label} source:", file=sys.stderr)
    print(cell.source, file=sys.stderr)
    stdout, stderr, errors = cell_text_outputs(cell)
    if stderr.strip():
        print("--- kernel stderr (the real error message):", file=sys.stderr)
        print(stderr.rstrip(), file=sys.stderr)
    for e in errors:
        if e.strip(": \n"):
            print("--- error output:", file=sys.stderr)
            print(e, file=sys.stderr)
    if not stderr.strip() and not any(e.strip(": \n") for e in errors):
        print("--- the kernel sent no error text; stdout was:", file=sys.stderr)
        print(stdout.rstrip() or "(empty)", file=sys.stderr)


def run_notebook(path, timeout, html_dir, executed_dir):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs = []
            c.execution_count = None
    nb.cells.insert(0, injected(GUARD_SOURCE))
    nb.cells.append(injected(CHECK_SOURCE))
    nb_dir = os.path.dirname(os.path.abspath(path))
    client = TrackingClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        startup_timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": nb_dir}},
    )
    t0 = time.time()
    ok = True
    try:
        client.execute()
    except CellExecutionError:
        ok = False
        report_failure(path, nb, client.current_index, "a cell failed (tslab sends nbclient an empty error; its text is below)")
        if nb.cells[client.current_index].metadata.get(MARKER):
            # Point at the cells during which tslab logged the stray error.
            for i, c in enumerate(nb.cells):
                if any(m in cell_text_outputs(c)[1] for m in LOGGED_MARKERS):
                    report_failure(path, nb, i, "the error above was logged while this cell was the kernel's current one", header=False)
    except CellTimeoutError:
        ok = False
        report_failure(path, nb, client.current_index, f"a cell ran longer than {timeout} s")
    except DeadKernelError as e:
        ok = False
        report_failure(path, nb, client.current_index, f"the kernel died: {e}")
    if ok:
        # Errors tslab logged to a cell's stderr without failing it.
        for i, c in enumerate(nb.cells):
            _, stderr, _ = cell_text_outputs(c)
            if any(m in stderr for m in LOGGED_MARKERS):
                ok = False
                report_failure(path, nb, i, "the kernel logged an error outside a cell's await")
                break
    elapsed = time.time() - t0
    clean = copy.deepcopy(nb)
    clean.cells = [c for c in clean.cells if not c.metadata.get(MARKER)]
    name = os.path.splitext(os.path.basename(path))[0]
    if executed_dir:
        os.makedirs(executed_dir, exist_ok=True)
        nbformat.write(clean, os.path.join(executed_dir, name + ".ipynb"))
    if ok and html_dir:
        from nbconvert import HTMLExporter

        os.makedirs(html_dir, exist_ok=True)
        body, _ = HTMLExporter().from_notebook_node(clean)
        with open(os.path.join(html_dir, name + ".html"), "w", encoding="utf-8") as f:
            f.write(body)
    print(f"{'ok  ' if ok else 'FAIL'} {path} ({elapsed:.1f} s)", flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebook files (default: notebooks/*.ipynb and notebooks/solutions/*.ipynb)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--html-dir", help="export each executed notebook to HTML here")
    ap.add_argument("--executed-dir", help="write each executed notebook here")
    args = ap.parse_args()
    paths = args.notebooks or sorted(glob.glob("notebooks/*.ipynb")) + sorted(glob.glob("notebooks/solutions/*.ipynb"))
    if not paths:
        print("no notebooks found", file=sys.stderr)
        return 1
    passed = failed = 0
    for p in paths:
        if run_notebook(p, args.timeout, args.html_dir, args.executed_dir):
            passed += 1
        else:
            failed += 1
    print(f"notebooks: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
