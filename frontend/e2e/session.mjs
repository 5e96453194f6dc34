// End-to-end test of the session UI (issue 8): the restored state after a
// restart of the app, pins, recording a scenario, the connect dialog's
// errors and the palette's history. It needs its own `clusterlab serve`
// (it stops and restarts it on the same data dir), so it runs only with
// CLUSTERLAB_BIN:
//
//   CLUSTERLAB_BIN=/path/to/clusterlab node e2e/session.mjs
//
// run.mjs calls sessionChecks with its own `check`; alone, this file
// prints one line per check and "N passed, N failed".

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiClient, launch, openPage, outDir } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const STEP_TIMEOUT = Number(process.env.E2E_STEP_TIMEOUT ?? 20000);
const PROJECT = 'e2e-session';

/** startServe starts `clusterlab serve` on a data dir and waits for its lock file. */
async function startServe(bin, dataDir) {
  const lock = join(dataDir, 'serve.lock');
  rmSync(lock, { force: true });
  const child = spawn(bin, ['serve', '--data-dir', dataDir, '--project', PROJECT, '--nodes', '5'], {
    cwd: resolve(here, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 60000;
  while (!existsSync(lock)) {
    if (child.exitCode !== null) throw new Error(`clusterlab serve exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`clusterlab serve did not start in 60 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let info;
  for (;;) {
    try {
      info = JSON.parse(readFileSync(lock, 'utf8'));
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // written but not yet complete
    }
  }
  const url = `http://${info.addr}`;
  return {
    url,
    token: info.token,
    api: apiClient(url, info.token),
    log: () => log,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      }
    },
  };
}

/** startAgent starts one real worker node (`clusterlab agent`) on a loopback address with a gossip key. */
async function startAgent(bin, dataDir, bind, key) {
  const lock = join(dataDir, 'agent.lock');
  const child = spawn(
    bin,
    ['agent', '--name', 'e2e-a1', '--bind', bind, '--profile', 'local', '--workload', 'demo', '--key', key, '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 30000;
  while (!existsSync(lock)) {
    if (child.exitCode !== null) throw new Error(`clusterlab agent exited: ${log}`);
    if (Date.now() > deadline) throw new Error(`clusterlab agent did not start in 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      }
    },
  };
}

/** gossipKey makes a random AES-256 gossip key (base64). */
function gossipKey() {
  return randomBytes(32).toString('base64');
}

/** op runs an operation through the API and returns its result (throws on an error). */
async function op(srv, name, params = {}) {
  const r = await srv.api('POST', `/operations/${name}`, params, { 'X-Clusterlab-Confirm': 'true' });
  if (r.status >= 300) throw new Error(`${name}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
  return r.json?.result ?? r.json;
}

/** waitFor polls fn until it returns a truthy value or the time is up. */
async function waitFor(what, fn, ms = STEP_TIMEOUT) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * sessionChecks runs the session checks through `check(name, fn)`. Without
 * CLUSTERLAB_BIN it reports one check as skipped (it passes, saying why).
 */
export async function sessionChecks({ check }) {
  const bin = process.env.CLUSTERLAB_BIN;
  if (!bin) {
    await check('session checks (skipped)', async () => 'set CLUSTERLAB_BIN: they restart their own `clusterlab serve`');
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'clusterlab-e2e-session-'));
  const { context, userDataDir } = await launch();
  const { page, consoleErrors, shot, goto } = await openPage(context);
  let srv = null;
  let agent = null;
  try {

    let pinnedPid = '';
    let namedPid = '';
    const pinnedName = 'e2e.web';

    await check('session: the project shows, filters and pins are saved', async () => {
      srv = await startServe(bin, dataDir);
      await page.goto(`${srv.url}/?token=${srv.token}`);
      await page.getByTestId('project-name').filter({ hasText: PROJECT }).waitFor();
      await page.getByTestId('simulated-badge').waitFor();
      await goto('processes');
      await page.getByTestId('filter-behavior').fill('echo');
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('[data-testid="process-row"]')];
        return rows.length > 1 && rows.every((r) => r.textContent.includes('echo'));
      });
      await page.getByTestId('sort-mailbox').click();
      await page.getByTestId('sort-mailbox').filter({ hasText: '▼' }).waitFor();
      await page.waitForFunction(() => window.clusterlab && !window.clusterlab.processes.loading);
      const rows = page.getByTestId('process-row');
      pinnedPid = await rows.nth(0).getAttribute('data-pid');
      namedPid = await rows.nth(1).getAttribute('data-pid');
      // A registered name to pin: the pin follows the name, not the pid.
      await op(srv, 'registry_register', { name: pinnedName, pid: namedPid });
      await page.getByRole('button', { name: 'Refresh', exact: true }).first().click();
      await page.getByTestId(`pin-name-${namedPid}`).click();
      await page.getByTestId(`pin-${pinnedPid}`).click();
      await page.locator('[data-testid="pinned-row"]').nth(1).waitFor();
      await page.locator(`[data-testid="pinned-row"][data-key="name:${pinnedName}"]`).filter({ hasText: namedPid }).waitFor();
      // The save is debounced (~500 ms): wait until the server has it.
      const t0 = Date.now();
      const ui = await waitFor('the UI state to be saved', async () => {
        const s = await op(srv, 'session_get');
        const u = s.session.ui;
        return u.filters?.behavior === 'echo' && u.sort === 'mailbox' && u.pins?.names?.includes(pinnedName) && u.pins?.processes?.includes(pinnedPid) ? u : null;
      });
      await shot('session-pinned');
      return `filters ${JSON.stringify(ui.filters)}, sort ${ui.sort}${ui.desc ? ' desc' : ''}, pins ${JSON.stringify(ui.pins.processes)} + name ${pinnedName}; saved within ${Date.now() - t0} ms`;
    });

    await check('session: after a restart of the app the filters and pins are restored', async () => {
      await srv.stop();
      srv = await startServe(bin, dataDir);
      const t0 = performance.now();
      await page.goto(`${srv.url}/?token=${srv.token}`);
      await page.getByTestId('view-title').filter({ hasText: /processes/i }).waitFor();
      await page.waitForFunction(() => window.clusterlab?.session?.restored);
      const restoredMs = performance.now() - t0;
      const behavior = await page.getByTestId('filter-behavior').inputValue();
      if (behavior !== 'echo') throw new Error(`the behaviour filter is "${behavior}", want "echo"`);
      await page.getByTestId('sort-mailbox').filter({ hasText: '▼' }).waitFor();
      await page.locator(`[data-testid="pinned-row"][data-key="pid:${pinnedPid}"]`).waitFor();
      const nameRow = page.locator(`[data-testid="pinned-row"][data-key="name:${pinnedName}"]`);
      await nameRow.waitFor();
      // The name was registered at run time: the new run does not have it, so its pin is stale.
      await page.locator(`[data-testid="pinned-row"][data-key="name:${pinnedName}"][data-stale="true"]`).waitFor();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="process-row"]').length > 0);
      await shot('session-restored');
      const pidStale = await page.locator(`[data-testid="pinned-row"][data-key="pid:${pinnedPid}"]`).getAttribute('data-stale');
      return `view, filter behavior=echo, sort mailbox ▼, pin ${pinnedPid} (${pidStale === 'true' ? 'stale' : 'live'}) and name ${pinnedName} (stale: not registered in the new run) restored in ${restoredMs.toFixed(0)} ms`;
    });

    await check('session: record a scenario around a node crash and see its YAML', async () => {
      await page.getByTestId('record-start').click();
      await page.getByTestId('recording').waitFor();
      await goto('simulator');
      await page.getByTestId('crash-node-3').click();
      await page.getByTestId('confirm-yes').click();
      await page.locator('[data-testid="sim-node-node-3"][data-state="dead"]').waitFor();
      // The REC control stays on every page.
      await goto('topology');
      await page.getByTestId('recording').waitFor();
      await page.getByTestId('record-elapsed').filter({ hasText: /^0:0[1-9]|^0:[1-5]\d/ }).waitFor();
      await shot('session-recording');
      await page.getByTestId('record-stop').click();
      await page.getByTestId('record-result').waitFor();
      const yaml = await page.getByTestId('record-yaml').textContent();
      if (!/crash:\s*node-3/.test(yaml)) throw new Error(`the YAML has no crash of node-3:\n${yaml}`);
      const path = await page.getByTestId('record-path').textContent();
      if (!existsSync(path)) throw new Error(`the scenario file ${path} does not exist`);
      await page.getByTestId('record-copy').click();
      await page.getByTestId('record-copy').filter({ hasText: 'Copied' }).waitFor();
      await shot('session-recorded');
      await page.getByTestId('record-result').getByRole('button', { name: 'Close' }).click();
      await page.getByTestId('record-result').waitFor({ state: 'detached' });
      if (await page.getByTestId('recording').isVisible()) throw new Error('the REC control is still shown after stop');
      return `${path} (${yaml.split('\n').length} lines)`;
    });

    await check('session: another window follows the recording through the session event', async () => {
      const other = await context.newPage();
      try {
        other.setDefaultTimeout(STEP_TIMEOUT);
        await other.goto(`${srv.url}/?token=${srv.token}`);
        await other.getByTestId('record-start').click();
        await other.getByTestId('recording').waitFor();
        const t0 = performance.now();
        await page.getByTestId('recording').waitFor();
        const seen = performance.now() - t0;
        await other.getByTestId('record-stop').click();
        await other.getByTestId('record-result').waitFor();
        await page.getByTestId('recording').waitFor({ state: 'detached' });
        return `the first window showed REC ${seen.toFixed(0)} ms after the second started it, and dropped it on stop`;
      } finally {
        await other.close();
      }
    });

    await check('session: the connect dialog shows a clear error for a bad seed', async () => {
      await page.getByTestId('open-connect').click();
      await page.getByTestId('connect-dialog').waitFor();
      // Checked in the page first.
      await page.getByTestId('connect-seeds').fill('no-port-here');
      await page.getByTestId('connect-submit').click();
      await page.getByTestId('connect-error-seeds').filter({ hasText: 'host:port' }).waitFor();
      const keyType = await page.getByTestId('connect-key').getAttribute('type');
      if (keyType !== 'password') throw new Error(`the key field is type=${keyType}, want password`);
      if (await page.getByTestId('connect-save-key').isChecked()) throw new Error('"remember the key" is checked by default');
      // Then by the join: nothing listens on 127.0.0.1:1.
      await page.getByTestId('connect-seeds').fill('127.0.0.1:1');
      const t0 = performance.now();
      await page.getByTestId('connect-submit').click();
      const failure = page.getByTestId('connect-failure');
      await failure.waitFor({ timeout: 30000 });
      const ms = performance.now() - t0;
      const kind = await failure.getAttribute('data-failure');
      const text = await failure.textContent();
      if (kind !== 'unreachable') throw new Error(`failure kind ${kind}, want unreachable: ${text}`);
      if (!/127\.0\.0\.1:1/.test(text)) throw new Error(`the error does not name the seed: ${text}`);
      await shot('session-connect-error');
      await page.getByTestId('connect-dialog').getByRole('button', { name: 'Cancel' }).click();
      await page.getByTestId('simulated-badge').waitFor();
      const s = await op(srv, 'session_get');
      if (!s.simulated) throw new Error('the app left the simulator after a failed join');
      return `"${text.replace(/\s+/g, ' ').slice(0, 140)}…" after ${ms.toFixed(0)} ms; still on the simulator`;
    });

    await check('session: connect to a real agent (wrong key, then right), views follow, disconnect, recent cluster', async () => {
      const key = gossipKey();
      const port = 20000 + Math.floor(Math.random() * 20000);
      const seed = `127.0.0.2:${port}`;
      agent = await startAgent(bin, join(dataDir, 'agent'), seed, key);
      await page.getByTestId('open-connect').click();
      await page.getByTestId('connect-dialog').waitFor();
      await page.getByTestId('connect-seeds').fill(seed);
      await page.getByTestId('connect-profile').selectOption('local');
      await page.getByTestId('connect-name').fill('lab');
      await page.getByTestId('connect-key').fill(gossipKey());
      await page.getByTestId('connect-submit').click();
      const failure = page.getByTestId('connect-failure');
      await failure.waitFor({ timeout: 30000 });
      const wrongKind = await failure.getAttribute('data-failure');
      if (wrongKind !== 'key' && wrongKind !== 'label') throw new Error(`a wrong key failed as ${wrongKind}: ${await failure.textContent()}`);
      await shot('session-connect-wrong-key');
      await page.getByTestId('simulated-badge').waitFor();
      // The right key, not remembered.
      await page.getByTestId('connect-key').fill(key);
      const t0 = performance.now();
      await page.getByTestId('connect-submit').click();
      await page.getByTestId('connect-dialog').waitFor({ state: 'detached', timeout: 30000 });
      const joined = performance.now() - t0;
      await page.getByTestId('session-mode').filter({ hasText: 'lab' }).waitFor();
      await page.getByTestId('simulated-badge').waitFor({ state: 'detached' });
      const badge = performance.now() - t0;
      await goto('topology');
      const t1 = performance.now();
      await page.getByTestId('node-row-e2e-a1').waitFor();
      const topo = performance.now() - t1;
      await goto('processes');
      // The simulator's pid pin is stale on the real cluster; the filters survived the switch.
      await page.locator(`[data-testid="pinned-row"][data-key="pid:${pinnedPid}"][data-stale="true"]`).waitFor();
      if ((await page.getByTestId('filter-behavior').inputValue()) !== 'echo') throw new Error('the filters did not survive the switch');
      await page.waitForTimeout(500);
      await shot('session-connected');
      const hist = await op(srv, 'history_list', { limit: 20 });
      const serverMs = hist.records.find((r) => r.operation === 'cluster_connect' && r.ok)?.duration_ms ?? NaN;
      const s = await op(srv, 'session_get');
      if (s.simulated || s.mode !== 'lab') throw new Error(`session_get says mode ${s.mode}, simulated ${s.simulated}`);
      if (JSON.stringify(s).includes(key)) throw new Error('the key was saved although "remember the key" was off');
      // Disconnect: back on the simulator, the pin is live again.
      await page.getByTestId('disconnect').click();
      await page.getByTestId('simulated-badge').waitFor();
      await page.locator(`[data-testid="pinned-row"][data-key="pid:${pinnedPid}"][data-stale="false"]`).waitFor();
      // One click on the recent cluster: its key was not saved, so the dialog asks for it.
      await page.getByTestId('recent-lab').click();
      await page.getByTestId('connect-failure').waitFor({ timeout: 30000 });
      const seeds = await page.getByTestId('connect-seeds').inputValue();
      if (seeds !== seed) throw new Error(`the dialog has seeds ${seeds}, want ${seed}`);
      await shot('session-recent-needs-key');
      await page.getByTestId('connect-key').fill(key);
      await page.getByTestId('connect-submit').click();
      await page.getByTestId('connect-dialog').waitFor({ state: 'detached', timeout: 30000 });
      await page.getByTestId('session-mode').filter({ hasText: 'lab' }).waitFor();
      await page.getByTestId('disconnect').click();
      await page.getByTestId('simulated-badge').waitFor();
      return `wrong key → ${wrongKind}; joined in ${joined.toFixed(0)} ms (cluster_connect ${serverMs.toFixed(0)} ms in the server), badge off after ${badge.toFixed(0)} ms, topology shows the agent ${topo.toFixed(0)} ms after opening it; disconnect → simulator; recent cluster reconnects after asking for the key`;
    });

    await check('session: the palette lists the history and re-runs a past operation', async () => {
      await page.keyboard.press('Control+k');
      await page.getByTestId('palette').waitFor();
      await page.getByTestId('palette-history').waitFor();
      await shot('session-palette-history');
      await page.getByTestId('palette-search').fill('crash');
      const item = page.getByTestId('history-node_crash').first();
      await item.waitFor();
      await item.click();
      await page.getByTestId('palette-op-name').filter({ hasText: 'node_crash' }).waitFor();
      const node = await page.locator('#palette-node').inputValue();
      if (node !== 'node-3') throw new Error(`the form has node=${node}, want node-3`);
      // A run with a secret: cluster_connect opens the connect dialog with everything but the key.
      await page.getByText('← back').click();
      await page.getByTestId('palette-search').fill('cluster_connect');
      await page.getByTestId('history-cluster_connect').first().click();
      await page.getByTestId('connect-dialog').waitFor();
      const seeds = await page.getByTestId('connect-seeds').inputValue();
      const key = await page.getByTestId('connect-key').inputValue();
      if (!seeds.startsWith('127.0.0.2:')) throw new Error(`the re-run dialog has seeds "${seeds}"`);
      if (key) throw new Error('the re-run dialog has a key: secrets must not come back from the history');
      await shot('session-palette-rerun');
      await page.getByTestId('connect-dialog').getByRole('button', { name: 'Cancel' }).click();
      return `node_crash prefilled with node=node-3; cluster_connect reopened the connect dialog with seeds ${seeds}, the key asked again`;
    });

    await check('session: switch project and back; each keeps its own state', async () => {
      await goto('processes');
      await page.getByTestId('project-switcher').click();
      await page.getByTestId('project-menu').waitFor();
      await page.getByTestId('new-project').fill('e2e-other');
      await shot('session-project-menu');
      await page.getByTestId('project-menu').getByRole('button', { name: 'Open' }).click();
      await page.getByTestId('project-name').filter({ hasText: 'e2e-other' }).waitFor();
      // A new project starts from the defaults: the topology, no filters, no pins.
      await page.getByTestId('view-title').filter({ hasText: /topology/i }).waitFor();
      await goto('processes');
      if ((await page.getByTestId('filter-behavior').inputValue()) !== '') throw new Error('the new project kept the old filters');
      if (await page.getByTestId('pinned-panel').isVisible()) throw new Error('the new project shows the old pins');
      await page.getByTestId('project-switcher').click();
      await page.getByTestId(`project-${PROJECT}`).click();
      await page.getByTestId('project-name').filter({ hasText: PROJECT }).waitFor();
      await page.getByTestId('view-title').filter({ hasText: /processes/i }).waitFor();
      await page.waitForFunction(() => document.querySelector('[data-testid="filter-behavior"]')?.value === 'echo');
      await page.locator(`[data-testid="pinned-row"][data-key="pid:${pinnedPid}"]`).waitFor();
      const list = await op(srv, 'projects_list');
      return `projects: ${list.projects.map((p) => p.name).join(', ')}; back on ${PROJECT} with its filters and pins`;
    });

    await check('session: no uncaught errors in the page', async () => {
      const real = consoleErrors.filter((e) => !/status of 4\d\d|status of 50[24]|Failed to load resource/.test(e));
      if (real.length) throw new Error(real.slice(0, 5).join(' | '));
      return `${consoleErrors.length} expected HTTP error console lines`;
    });
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    if (agent) await agent.stop();
    if (srv) await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Alone: node e2e/session.mjs
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const results = [];
  const check = async (name, fn) => {
    const t0 = performance.now();
    try {
      const detail = await fn();
      results.push(true);
      console.log(`ok   ${name} (${(performance.now() - t0).toFixed(0)} ms)${detail ? ` — ${detail}` : ''}`);
    } catch (err) {
      results.push(false);
      console.log(`FAIL ${name} (${(performance.now() - t0).toFixed(0)} ms) — ${String(err?.message ?? err).split('\n')[0]}`);
    }
  };
  sessionChecks({ check })
    .then(() => {
      const failed = results.filter((r) => !r).length;
      console.log(`${results.length - failed} passed, ${failed} failed`);
      console.log(`screenshots: ${outDir}`);
      process.exitCode = failed ? 1 : 0;
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
