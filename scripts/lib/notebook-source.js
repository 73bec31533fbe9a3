// The notebooks' source format, in one place: notebooks/src/NAME.ts.md is a plain-text file of
// cells, each starting with a line `%% md` (Markdown) or `%% ts` (TypeScript code). This module
// parses it, builds the committed .ipynb from it (no outputs, the margin-lab kernel, cell ids
// derived from the notebook's name and the cell's place, so a rebuild changes nothing that did not
// change), and turns an .ipynb edited in Jupyter back into the source format.
const crypto = require('crypto');

const KERNEL = {
  kernelspec: { display_name: 'TypeScript (margin-lab)', language: 'typescript', name: 'margin-lab-ts' },
  language_info: { file_extension: '.ts', mimetype: 'text/typescript', name: 'typescript' },
};

/** Cells of a source text: [{ kind: 'markdown' | 'code', text }]. Throws on an unknown `%% kind`. */
function parseSource(text, file = 'source') {
  const cells = [];
  let cur = null;
  const flush = () => {
    if (cur) cells.push({ kind: cur.kind, text: cur.lines.join('\n').replace(/^\n+|\n+$/g, '') });
  };
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith('%% ')) {
      flush();
      const k = line.slice(3).trim();
      if (k !== 'md' && k !== 'ts')
        throw new Error(`${file}:${i + 1}: unknown cell kind ${JSON.stringify(k)} (expected %% md or %% ts)`);
      cur = { kind: k === 'md' ? 'markdown' : 'code', lines: [] };
    } else if (cur) cur.lines.push(line);
    else if (line.trim() !== '')
      throw new Error(`${file}:${i + 1}: text before the first cell marker (start the file with %% md or %% ts)`);
  });
  flush();
  return cells;
}

/** Jupyter's list-of-lines form of a cell's text. */
function lines(text) {
  if (text === '') return [];
  const parts = text.split('\n');
  return parts.map((l, i) => (i < parts.length - 1 ? `${l}\n` : l));
}

/** The notebook (nbformat 4.5) of parsed cells; `name` seeds the cell ids. */
function toNotebook(cells, name) {
  return {
    cells: cells.map((c, i) => {
      const id = crypto.createHash('sha256').update(`${name}\n${i}`).digest('hex').slice(0, 8);
      return c.kind === 'markdown'
        ? { cell_type: 'markdown', id, metadata: {}, source: lines(c.text) }
        : { cell_type: 'code', execution_count: null, id, metadata: {}, outputs: [], source: lines(c.text) };
    }),
    metadata: KERNEL,
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    );
  return v;
}

/** The file text of a notebook, as nbformat writes it (sorted keys, one-space indent, final newline). */
function serialize(nb) {
  return `${JSON.stringify(sortKeys(nb), null, 1)}\n`;
}

/** The committed notebook text of a source text. */
function buildNotebook(sourceText, name, file) {
  return serialize(toNotebook(parseSource(sourceText, file), name));
}

/** The source text of a notebook (outputs dropped; raw cells refused: the format has none). */
function toSource(nb, file = 'notebook') {
  const out = [];
  nb.cells.forEach((c, i) => {
    const text = Array.isArray(c.source) ? c.source.join('') : c.source;
    if (c.cell_type === 'markdown') out.push('%% md', text, '');
    else if (c.cell_type === 'code') out.push('%% ts', text, '');
    else throw new Error(`${file}: cell ${i + 1} is a ${c.cell_type} cell; the source format has only md and ts cells`);
  });
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

module.exports = { parseSource, toNotebook, serialize, buildNotebook, toSource, KERNEL };
