/**
 * Static export for slides: renders a figure in headless Chromium (Debian's /usr/bin/chromium or
 * CHROMIUM_PATH) through playwright-core, and writes PNG or SVG via Plotly.toImage.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkPixels, Figure, figuresPage, validateFigure } from './show';
import { writeFileAtomic } from '../util/fs';

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium to use, or null. */
export function findChromium(): string | null {
  const env = process.env.CHROMIUM_PATH;
  if (env) return fs.existsSync(env) ? env : null;
  return CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/** Writes `file` (.png or .svg) showing the figure; returns its absolute path. */
export async function saveImage(
  fig: Figure,
  file: string,
  opts: { width?: number; height?: number; scale?: number } = {},
): Promise<string> {
  validateFigure(fig);
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') throw new Error(`saveImage: ${file} must end in .png or .svg`);
  const exe = findChromium();
  if (!exe) {
    throw new Error(
      `saveImage needs Chromium, which was not found (${process.env.CHROMIUM_PATH ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} does not exist` : `looked for ${CHROMIUM_CANDIDATES.join(', ')}`}). Install it (sudo apt-get install chromium) or set CHROMIUM_PATH; or use saveHtml().`,
    );
  }
  let chromium: {
    launch(o: Record<string, unknown>): Promise<{ newPage(): Promise<PageLike>; close(): Promise<void> }>;
  };
  try {
    chromium = require('playwright-core').chromium;
  } catch {
    throw new Error('saveImage needs the npm package playwright-core (npm install playwright-core)');
  }
  const width = checkPixels('saveImage width', opts.width ?? (fig.layout?.width as number | undefined) ?? 800);
  const height = checkPixels('saveImage height', opts.height ?? (fig.layout?.height as number | undefined) ?? 500);
  const scale = opts.scale ?? 2;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale <= 0 || scale > 10)
    throw new Error(`saveImage scale must be a number in (0, 10], got ${JSON.stringify(scale)}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-img-'));
  const page0 = path.join(dir, 'figure.html');
  fs.writeFileSync(page0, figuresPage([fig]));
  const browser = await chromium.launch({
    executablePath: exe,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto('file://' + page0);
    await page.waitForSelector('.margin-lab-figure .main-svg', { timeout: 30000 });
    const url = (await page.evaluate(
      `window.Plotly.toImage(document.querySelector('.margin-lab-figure'), ${JSON.stringify({ format: ext.slice(1), width, height, scale })})`,
    )) as string;
    const comma = url.indexOf(',');
    const meta = url.slice(0, comma);
    const body = url.slice(comma + 1);
    const bytes = meta.endsWith(';base64')
      ? Buffer.from(body, 'base64')
      : Buffer.from(decodeURIComponent(body), 'utf8');
    const out = path.resolve(file);
    writeFileAtomic(out, bytes);
    return out;
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface PageLike {
  goto(url: string): Promise<unknown>;
  waitForSelector(sel: string, o: { timeout: number }): Promise<unknown>;
  evaluate(expr: string): Promise<unknown>;
}
