/** Headless Chromium for the tests that open generated pages, with the page's errors collected. */
import type { Browser, Page } from 'playwright-core';

export interface OpenedBrowser {
  browser: Browser;
  page: Page;
  /** Console errors, page errors and failed requests, as they happen. */
  problems: string[];
}

/** Launches the system Chromium (CHROMIUM_PATH to override); SwiftShader gives it WebGL for 3-D figures. */
export async function openBrowser(): Promise<OpenedBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { browser, page, problems };
}
