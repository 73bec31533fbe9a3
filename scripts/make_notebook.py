"""Authoring helper: build an .ipynb (no outputs, tslab kernel) from a plain-text source file.

Source format (notebooks/src/NAME.ts.md): cells separated by lines `%% md` or `%% ts`.
    python3 scripts/make_notebook.py notebooks/src/00-setup.ts.md notebooks/00-setup.ipynb
"""
import sys

import nbformat


def build(src_text):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "margin-lab-ts", "display_name": "TypeScript (margin-lab)", "language": "typescript"},
        "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
    }
    kind, lines = None, []

    def flush():
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text))

    for line in src_text.splitlines():
        if line.startswith("%% "):
            flush()
            kind, lines = line[3:].strip(), []
            if kind not in ("md", "ts"):
                raise SystemExit(f"unknown cell kind {kind!r}")
        else:
            lines.append(line)
    flush()
    return nb


if __name__ == "__main__":
    src, dst = sys.argv[1], sys.argv[2]
    nb = build(open(src, encoding="utf-8").read())
    nbformat.write(nb, dst)
