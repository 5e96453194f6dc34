// Shared helpers of the end-to-end scripts: finding (or starting) the
// server, calling its API, and launching Debian's chromium.

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Where screenshots and reports go (gitignored). */
export const outDir = resolve(here, '..', 'test-results');
mkdirSync(outDir, { recursive: true });

/** The browser: Debian's chromium, never a downloaded one. */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Finds the server: env URL+token, a lock file, or a serve started here. */
export async function server() {
  if (process.env.CLUSTERLAB_URL && process.env.CLUSTERLAB_TOKEN) {
    return { url: process.env.CLUSTERLAB_URL.replace(/\/+$/, ''), token: process.env.CLUSTERLAB_TOKEN, stop: async () => {} };
  }
  if (process.env.CLUSTERLAB_BIN) {
    const dataDir = mkdtempSync(join(tmpdir(), 'clusterlab-e2e-'));
    const child = spawn(process.env.CLUSTERLAB_BIN, ['serve', '--data-dir', dataDir, '--nodes', '5'], {
      cwd: resolve(here, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const lock = join(dataDir, 'serve.lock');
    const deadline = Date.now() + 60000;
    while (!existsSync(lock)) {
      if (child.exitCode !== null) throw new Error(`clusterlab serve exited: ${log}`);
      if (Date.now() > deadline) throw new Error(`clusterlab serve did not start in 60 s: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const info = JSON.parse(readFileSync(lock, 'utf8'));
    return {
      url: `http://${info.addr}`,
      token: info.token,
      stop: async () => {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const dataDir = process.env.CLUSTERLAB_DATA_DIR ?? '/tmp/cl-data';
  const lock = join(dataDir, 'serve.lock');
  if (!existsSync(lock)) {
    throw new Error(
      `no server: set CLUSTERLAB_URL and CLUSTERLAB_TOKEN, or CLUSTERLAB_DATA_DIR to a data dir with serve.lock (tried ${lock}), or CLUSTERLAB_BIN to start one`,
    );
  }
  const info = JSON.parse(readFileSync(lock, 'utf8'));
  return { url: `http://${info.addr}`, token: info.token, stop: async () => {} };
}

/** api calls the REST API directly (for setup and cross-checks). */
export function apiClient(url, token) {
  return async (method, path, body, extraHeaders = {}) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...extraHeaders },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, json };
  };
}


/** launch starts chromium headless with a fresh profile. */
export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'clusterlab-chromium-'));
  // A fresh profile per run (launchPersistentContext passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { context, userDataDir };
}

/**
 * openPage returns the context's page set up for a test run: the step
 * timeout, console and page errors collected into consoleErrors, shot(name)
 * saving a screenshot into outDir, and goto(view) switching views through
 * the sidebar (closing the palette first).
 */
export async function openPage(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(Number(process.env.E2E_STEP_TIMEOUT ?? 20000));
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`) });
  const goto = async (view) => {
    if (await page.getByTestId('palette').isVisible()) await page.keyboard.press('Escape');
    await page.getByTestId(`nav-${view}`).click();
    await page.getByTestId('view-title').filter({ hasText: new RegExp(view, 'i') }).waitFor();
  };
  return { page, consoleErrors, shot, goto };
}
