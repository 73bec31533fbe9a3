import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { figureHtml, saveHtml, plotlyBundle, type Figure } from 'margin-lab';
import { figureMimeBundle } from 'margin-lab/dist/plot/show';

const fig: Figure = {
  data: [{ type: 'scatter', x: [0, 1], y: [1, 0], name: 'a</script><b>' }],
  layout: { title: { text: 'demo' } },
};

test('show() bundles plotly JSON, HTML and plain text in one output', () => {
  const b = figureMimeBundle(fig, false);
  assert.deepEqual(Object.keys(b).sort(), ['application/vnd.plotly.v1+json', 'text/html', 'text/plain']);
  const json = b['application/vnd.plotly.v1+json'] as Figure;
  assert.deepEqual(json.data, fig.data);
  assert.equal(b['text/plain'], '<Plotly figure "demo": 1 trace(s) [scatter]>');
});

test('only the first figure carries the plotly.js bundle; later figures stay small', () => {
  const first = figureMimeBundle(fig, true)['text/html'] as string;
  const later = figureMimeBundle(fig, false)['text/html'] as string;
  assert.ok(plotlyBundle().length > 1_000_000);
  assert.ok(first.length > plotlyBundle().length, 'first figure lacks the bundle');
  assert.ok(later.length < 5_000, `figure HTML is ${later.length} bytes`);
  assert.ok(!later.includes('window.__marginLabDefine'));
});

test('figure data cannot break out of its <script>', () => {
  const html = figureHtml(fig);
  assert.ok(!html.includes('a</script><b>'));
  assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
});

test('bad figures are refused with a clear error', () => {
  assert.throws(() => figureMimeBundle({} as Figure, false), /expected a figure \{data: \[\.\.\.\]/);
  assert.throws(
    () => figureMimeBundle({ data: [3 as unknown as Record<string, unknown>] }, false),
    /figure.data\[0\] must be a trace object/,
  );
});

test('saveHtml writes one standalone page with plotly.js loaded once', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-html-'));
  const file = saveHtml([fig, fig], path.join(dir, 'f.html'));
  const html = fs.readFileSync(file, 'utf8');
  assert.equal(html.split('window.__marginLabDefine = window.define').length - 1, 1);
  assert.equal((html.match(/class="margin-lab-figure"/g) ?? []).length, 2);
  assert.deepEqual(fs.readdirSync(dir), ['f.html'], 'temp file left behind');
});
