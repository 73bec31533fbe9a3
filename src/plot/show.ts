/**
 * Displaying Plotly figures: inline in notebooks and as standalone HTML files.
 *
 * In a notebook `show(fig)` emits ONE output with three representations:
 *  - application/vnd.plotly.v1+json — JupyterLab's Plotly renderer draws this;
 *  - text/html — classic Notebook and `jupyter nbconvert --to html` draw this;
 *  - text/plain — terminals and logs.
 * The ~3.5 MB plotly.js bundle goes into the HTML of the first figure of the kernel session (or
 * of an explicit `setupPlotly()` call) only; every later figure's HTML is a div and a few lines
 * of script that wait for `window.Plotly`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { displayBundle } from '../util/notebook';
import { writeFileAtomic } from '../util/fs';

/** A Plotly figure: plain JSON, exactly what `Plotly.newPlot` takes. */
export interface Figure {
  data: Array<Record<string, unknown>>;
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
  frames?: Array<Record<string, unknown>>;
}

let bundleCache: string | null = null;

/** The plotly.js bundle shipped with the package (plotly.js-dist-min). */
export function plotlyBundle(): string {
  if (bundleCache === null) {
    const file = require.resolve('plotly.js-dist-min/plotly.min.js');
    bundleCache = fs.readFileSync(file, 'utf8');
  }
  return bundleCache;
}

/** plotly.js version of the shipped bundle. */
export function plotlyVersion(): string {
  return (require('plotly.js-dist-min/package.json') as { version: string }).version;
}

/**
 * HTML that loads plotly.js as the global `window.Plotly`. Notebook 6 and nbconvert pages may
 * have require.js, whose `define` would make the UMD bundle register an AMD module instead of
 * the global; it is hidden while the bundle runs. `</script>` inside the bundle is escaped.
 */
export function plotlyLoaderHtml(): string {
  const src = plotlyBundle().replace(/<\/script/gi, '<\\/script');
  return [
    '<script type="text/javascript">window.__marginLabDefine = window.define; window.define = undefined;</script>',
    `<script type="text/javascript">${src}</script>`,
    '<script type="text/javascript">window.define = window.__marginLabDefine;</script>',
  ].join('\n');
}

function safeJson(value: unknown): string {
  // Keep the JSON inert inside a <script> element.
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** Checks a figure's shape so that mistakes show up in Node, not as a blank browser div. */
export function validateFigure(fig: Figure): void {
  if (fig === null || typeof fig !== 'object' || !Array.isArray(fig.data)) {
    throw new Error(
      `show(): expected a figure {data: [...], layout?: {...}}, got ${fig === null ? 'null' : typeof fig}`,
    );
  }
  fig.data.forEach((t, i) => {
    if (t === null || typeof t !== 'object')
      throw new Error(`show(): figure.data[${i}] must be a trace object, got ${String(t)}`);
  });
  for (const k of ['width', 'height'] as const) {
    const v = fig.layout?.[k];
    if (v !== undefined) checkPixels(`figure.layout.${k}`, v);
  }
}

/** A size in pixels: a finite number from 1 to 20,000 (it is written into HTML and page scripts). */
export function checkPixels(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 20_000) {
    throw new Error(`${what} must be a number of pixels from 1 to 20000, got ${JSON.stringify(v) ?? String(v)}`);
  }
  return v;
}

const ID_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** A figure's div plus a script that draws it once window.Plotly exists. */
export function figureHtml(fig: Figure, opts: { id?: string; height?: number } = {}): string {
  validateFigure(fig);
  const id = opts.id ?? `ml-fig-${crypto.randomBytes(6).toString('hex')}`;
  if (!ID_RE.test(id))
    throw new Error(
      `figureHtml: id ${JSON.stringify(id)} must start with a letter and hold only letters, digits, _ and - (at most 64)`,
    );
  const height = checkPixels('figureHtml height', opts.height ?? (fig.layout?.height as number | undefined) ?? 450);
  const spec = {
    data: fig.data,
    layout: fig.layout ?? {},
    config: { responsive: true, ...(fig.config ?? {}) },
    frames: fig.frames,
  };
  return [
    `<div id="${id}" class="margin-lab-figure" style="width:100%;height:${height}px;"></div>`,
    '<script type="text/javascript">',
    '(function () {',
    `  var spec = ${safeJson(spec)};`,
    '  var tries = 0;',
    '  function draw() {',
    `    var el = document.getElementById(${JSON.stringify(id)});`,
    '    if (window.Plotly && el) {',
    '      window.Plotly.newPlot(el, spec.data, spec.layout, spec.config).then(function () {',
    '        if (spec.frames && spec.frames.length) window.Plotly.addFrames(el, spec.frames);',
    '      });',
    '    } else if (tries++ < 400) { setTimeout(draw, 25); }',
    "    else if (el) { el.textContent = 'plotly.js is not loaded: run the notebook\\'s first figure cell (or setupPlotly()) again.'; }",
    '  }',
    '  draw();',
    '})();',
    '</script>',
  ].join('\n');
}

function plainSummary(fig: Figure): string {
  const title = fig.layout?.title;
  const t = typeof title === 'string' ? title : (title as { text?: string } | undefined)?.text;
  const kinds = fig.data.map((d) => String(d.type ?? 'scatter'));
  return `<Plotly figure${t ? ` "${t}"` : ''}: ${fig.data.length} trace(s) [${kinds.join(', ')}]>`;
}

let loaderSent = false;

/** Sends the plotly.js bundle to the notebook now (otherwise the first `show()` does). */
export function setupPlotly(): boolean {
  const ok = displayBundle({ 'text/html': plotlyLoaderHtml(), 'text/plain': `<plotly.js ${plotlyVersion()} loaded>` });
  if (ok) loaderSent = true;
  return ok;
}

/** The MIME bundle `show()` emits (exported for tests). */
export function figureMimeBundle(fig: Figure, includeLoader: boolean): Record<string, unknown> {
  validateFigure(fig);
  const html = (includeLoader ? plotlyLoaderHtml() + '\n' : '') + figureHtml(fig);
  return {
    'application/vnd.plotly.v1+json': {
      data: fig.data,
      layout: fig.layout ?? {},
      config: fig.config ?? {},
      frames: fig.frames,
    },
    'text/html': html,
    'text/plain': plainSummary(fig),
  };
}

/**
 * Displays a figure inline in a notebook (returns nothing, so the cell shows only the figure).
 * Outside a notebook it prints a one-line summary; use `saveHtml()` there.
 */
export function show(fig: Figure): void {
  const bundle = figureMimeBundle(fig, !loaderSent);
  if (displayBundle(bundle)) loaderSent = true;
  else console.log(`${bundle['text/plain']} (not in a notebook: use saveHtml(figure, file) to view it)`);
}

/** HTML page with plotly.js loaded once and every figure below each other. */
export function figuresPage(figs: Figure[], title = 'margin-lab figures'): string {
  const esc = title.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string);
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8">',
    `<title>${esc}</title>`,
    plotlyLoaderHtml(),
    '</head><body>',
    ...figs.map((f) => figureHtml(f)),
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes a standalone HTML file (atomically) showing one or more figures. Returns the path. */
export function saveHtml(figs: Figure | Figure[], file: string, title?: string): string {
  const list = Array.isArray(figs) ? figs : [figs];
  list.forEach(validateFigure);
  const out = path.resolve(file);
  writeFileAtomic(out, figuresPage(list, title));
  return out;
}
