// End-to-end test of the web UI against a running `clusterlab serve`,
// driving Debian's chromium through playwright-core (no browser download).
//
//   CLUSTERLAB_URL=http://127.0.0.1:PORT CLUSTERLAB_TOKEN=... npm run e2e
//   CLUSTERLAB_DATA_DIR=/tmp/cl-data npm run e2e      # reads serve.lock
//   CLUSTERLAB_BIN=/path/to/clusterlab npm run e2e    # starts its own serve
//
// Screenshots go to frontend/test-results/. The script exits non-zero when
// a check fails and prints one line per check with its duration.

import { rmSync } from 'node:fs';
import { apiClient, launch, openPage, outDir, server } from './lib.mjs';
import { healthChecks } from './health.mjs';
import { sessionChecks } from './session.mjs';


const results = [];
async function check(name, fn) {
  const t0 = performance.now();
  try {
    const detail = await fn();
    const ms = performance.now() - t0;
    results.push({ name, ok: true, ms, detail });
    console.log(`ok   ${name} (${ms.toFixed(0)} ms)${detail ? ` — ${detail}` : ''}`);
  } catch (err) {
    const ms = performance.now() - t0;
    results.push({ name, ok: false, ms, detail: String(err?.message ?? err) });
    console.log(`FAIL ${name} (${ms.toFixed(0)} ms) — ${String(err?.message ?? err).split('\n')[0]}`);
  }
}

async function main() {
  const srv = await server();
  const api = apiClient(srv.url, srv.token);
  const { context, userDataDir } = await launch();
  const { page, consoleErrors, shot, goto } = await openPage(context);
  try {

    await check('the page shows 5 nodes', async () => {
      const t0 = performance.now();
      await page.goto(`${srv.url}/?token=${srv.token}`);
      await page.locator('[data-testid^="node-row-"][data-role="worker"]').nth(4).waitFor();
      const interactive = performance.now() - t0;
      const n = await page.locator('[data-testid^="node-row-"][data-role="worker"]').count();
      if (n !== 5) throw new Error(`want 5 worker nodes, see ${n}`);
      await page.getByTestId('simulated-badge').waitFor();
      if (new URL(page.url()).searchParams.has('token')) throw new Error('the token stayed in the address bar');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid^="node-row-"][data-state="alive"]').length >= 6);
      await page.waitForTimeout(600); // let cytoscape finish its first paint
      await shot('topology');
      return `${n} workers alive, SIMULATED badge, interactive in ${interactive.toFixed(0)} ms`;
    });

    await check('the node drawer opens with details and processes', async () => {
      await page.getByTestId('node-row-node-2').click();
      const drawer = page.getByTestId('node-drawer');
      await drawer.waitFor();
      await drawer.getByText('Processes (').waitFor();
      await drawer.locator('table tbody tr').first().waitFor();
      await shot('topology-drawer');
      await drawer.getByLabel('Close').click();
    });

    await check('crashing a node from the UI turns it unhealthy and the others notice', async () => {
      await goto('simulator');
      await page.getByTestId('seen-node-3').filter({ hasText: '4/4' }).waitFor();
      const t0 = performance.now();
      await page.getByTestId('crash-node-3').click();
      await page.getByTestId('confirm-yes').click();
      await page.locator('[data-testid="sim-node-node-3"][data-state="dead"]').waitFor();
      const unhealthy = performance.now() - t0;
      await page.getByTestId('membership-node-3').filter({ hasText: /suspect|dead/ }).waitFor();
      const observerNoticed = performance.now() - t0;
      await page.getByTestId('seen-node-3').filter({ hasText: /^0\/4/ }).waitFor({ timeout: 30000 });
      const othersNoticed = performance.now() - t0;
      await shot('simulator-crashed');
      await goto('topology');
      await page.locator('[data-testid="node-row-node-3"][data-state="dead"]').waitFor();
      await page.waitForTimeout(300);
      await shot('topology-crashed');
      return `unhealthy in the UI after ${unhealthy.toFixed(0)} ms; observer marks it suspect/dead after ${observerNoticed.toFixed(0)} ms; all 4 others after ${othersNoticed.toFixed(0)} ms`;
    });

    await check('restart brings the node back', async () => {
      await goto('simulator');
      await page.getByTestId('restart-node-3').click();
      await page.getByTestId('confirm-yes').click();
      await page.locator('[data-testid="sim-node-node-3"][data-state="alive"]').waitFor({ timeout: 30000 });
      await page.getByTestId('seen-node-3').filter({ hasText: /^4\/4/ }).waitFor({ timeout: 30000 });
    });

    await check('partition and heal from the simulator panel', async () => {
      await goto('simulator');
      await page.getByTestId('group-node-4-2').check();
      await page.getByTestId('group-node-5-2').check();
      await page.getByTestId('group-observer-1').check();
      const t0 = performance.now();
      await page.getByTestId('apply-partition').click();
      await page.getByTestId('sim-connectivity').filter({ hasText: 'partitioned into 2 groups' }).waitFor();
      const shown = performance.now() - t0;
      await shot('simulator-partitioned');
      await goto('topology');
      await page.getByTestId('connectivity').filter({ hasText: '{node-4, node-5}' }).waitFor();
      await page.waitForTimeout(300);
      await shot('topology-partitioned');
      await goto('simulator');
      const t1 = performance.now();
      await page.getByTestId('heal').click();
      await page.getByTestId('sim-connectivity').filter({ hasText: 'fully connected' }).waitFor();
      const healed = performance.now() - t1;
      return `partition visible after ${shown.toFixed(0)} ms, heal after ${healed.toFixed(0)} ms`;
    });

    await check('kill a process from the table', async () => {
      await goto('processes');
      await page.getByTestId('filter-behavior').fill('echo');
      const row = page.getByTestId('process-row').first();
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('[data-testid="process-row"]')];
        return rows.length > 0 && rows.every((r) => r.textContent.includes('echo'));
      });
      const pid = await row.getAttribute('data-pid');
      await shot('processes');
      await page.getByTestId(`kill-${pid}`).click();
      await page.getByTestId('confirm-yes').click();
      await page.locator(`[data-testid="process-row"][data-pid="${pid}"]`).waitFor({ state: 'detached' });
      await page.getByTestId('toast-success').filter({ hasText: pid }).waitFor();
      const after = await api('GET', `/processes/${encodeURIComponent(pid)}`);
      if (after.status !== 404) throw new Error(`GET ${pid} after the kill answered ${after.status}, want 404`);
      await page.getByTestId('filter-behavior').fill('');
      return `killed ${pid}; the API says 404 for it now`;
    });

    await check('run an operation from the palette', async () => {
      await page.keyboard.press('Control+k');
      await page.getByTestId('palette').waitFor();
      await page.getByTestId('palette-search').fill('list proc');
      await page.keyboard.press('Enter');
      await page.getByTestId('palette-op-name').filter({ hasText: 'list_processes' }).waitFor();
      await page.locator('#palette-limit').fill('3');
      await page.getByTestId('op-submit').click();
      await page.getByTestId('palette-ok').waitFor();
      const rows = await page.getByTestId('result-table').locator('tbody tr').count();
      if (rows !== 3) throw new Error(`want 3 result rows, see ${rows}`);
      await shot('palette-result');
      return `${rows} rows`;
    });

    await check('an invalid palette input shows the validation error', async () => {
      await page.getByText('Edit and run again').click();
      await page.locator('#palette-limit').fill('0');
      await page.getByTestId('op-submit').click();
      await page.getByTestId('field-error-limit').filter({ hasText: '0 is below the minimum 1' }).waitFor();
      await page.locator('#palette-limit').fill('lots');
      await page.getByTestId('op-submit').click();
      await page.getByTestId('field-error-limit').filter({ hasText: 'want an integer' }).waitFor();
      await shot('palette-invalid');
      // A server-side refusal shows too: a destructive op on a missing process.
      await page.getByText('← back').click();
      await page.getByTestId('palette-search').fill('kill_process');
      await page.keyboard.press('Enter');
      await page.locator('#palette-pid').fill('node-1/999999');
      await page.getByTestId('op-submit').click();
      await page.getByTestId('palette-confirm').waitFor();
      await page.getByTestId('confirm-yes').click();
      await page.getByTestId('error-box').waitFor();
      const code = await page.getByTestId('error-box').locator('code').first().textContent();
      const fix = await page.getByTestId('error-remediation').textContent().catch(() => '');
      await shot('palette-server-error');
      await page.keyboard.press('Escape');
      return `client: "0 is below the minimum 1"; server: ${code}${fix ? ` with remediation` : ''}`;
    });

    await check('every view renders', async () => {
      const api2 = api;
      // Give the views something to show.
      await api2('POST', '/operations/supervisor_start', { name: 'web' });
      for (let i = 1; i <= 4; i++) {
        await api2('POST', '/operations/supervisor_start_child', { supervisor: 'web', id: `w${i}`, behavior: 'echo', ...(i === 1 ? { node: 'node-2' } : {}) });
      }
      await api2('POST', '/operations/sandbox_create', { name: 'e2e-box', spread: 3, behavior: 'counter', count: 6 });
      const procs = await api2('GET', '/processes?behavior=echo&limit=1');
      const pid = procs.json?.processes?.[0]?.pid;
      const echoNode = pid?.split('/')[0];
      const reg = await api2('POST', '/operations/registry_register', { name: 'e2e.echo', pid });
      const tr = await api2('POST', '/operations/trace_start', { pid, duration: '30s' });
      const from = (await api2('GET', `/processes?behavior=echo&limit=50`)).json?.processes?.find((p) => p.node !== echoNode)?.pid;
      for (let i = 0; i < 5; i++) await api2('POST', '/operations/send', { pid, kind: 'ping', body: `hello ${i}` });
      if (from) await api2('POST', '/operations/call', { pid, kind: 'ping', body: 'call' });
      const views = ['registry', 'supervisors', 'sandboxes', 'traces', 'simulator', 'processes', 'topology'];
      for (const v of views) {
        await goto(v);
        if (v === 'traces' && tr.json?.result?.id) {
          await page.getByText(tr.json.result.id).first().click();
          await page.getByTestId('sequence').waitFor();
        }
        if (v === 'sandboxes') await page.getByText('e2e-box').first().click();
        await page.waitForTimeout(1200);
        await shot(`view-${v}`);
      }
      return `register ${reg.status}, trace ${tr.status}; screenshots of ${views.length} views`;
    });

    await healthChecks({ page, api, check, shot, goto });

    await check('no uncaught errors in the page', async () => {
      const real = consoleErrors.filter((e) => !/status of 4\d\d|Failed to load resource/.test(e));
      if (real.length) throw new Error(real.slice(0, 5).join(' | '));
      return `${consoleErrors.length} expected 4xx console lines`;
    });

    await check('the processes view reports its filter/sort round trip', async () => {
      await goto('processes');
      const t0 = performance.now();
      await page.getByTestId('sort-mailbox').click();
      await page.getByTestId('sort-mailbox').filter({ hasText: '▼' }).waitFor();
      await page.waitForFunction(() => window.clusterlab && !window.clusterlab.processes.loading);
      const wall = performance.now() - t0;
      const rt = await page.evaluate(() => window.clusterlab.processes.roundTripMs);
      const total = await page.evaluate(() => window.clusterlab.processes.total);
      return `${total} processes: sort round trip ${rt.toFixed(1)} ms (API), ${wall.toFixed(0)} ms click-to-rendered`;
    });
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    await srv.stop();
  }
  // The session checks restart their own server on one data dir (CLUSTERLAB_BIN).
  await sessionChecks({ check });
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  console.log(`screenshots: ${outDir}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
