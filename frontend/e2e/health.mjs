// End-to-end checks of the health UI (issue 7): the Health view, the alert
// badge, the unhealthy node in the topology, the drawer's resource chart
// and the membership timeline, against a running `clusterlab serve` with
// the embedded simulator.
//
// run.mjs calls healthChecks with its page and helpers; run alone with
//   CLUSTERLAB_BIN=/path/to/clusterlab node e2e/health.mjs
// (or CLUSTERLAB_URL + CLUSTERLAB_TOKEN / CLUSTERLAB_DATA_DIR, like run.mjs).

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { apiClient, launch, outDir, server } from './lib.mjs';

const ALERT_TIMEOUT = Number(process.env.E2E_ALERT_TIMEOUT ?? 45000);

/**
 * healthChecks runs the health checks on a page already showing the app.
 * ctx: { page, api, check(name, fn), shot(name), goto(view) }.
 * The node it pressures and the node it crashes are restored at the end.
 */
export async function healthChecks({ page, api, check, shot, goto }) {
  const catalog = await api('GET', '/operations');
  const names = new Set((catalog.json?.operations ?? catalog.json ?? []).map((o) => o.name));
  if (!names.has('health_status')) {
    await check('health UI (skipped: this backend has no health_status)', async () => 'skipped');
    return;
  }
  const hot = 'node-2';
  const victim = 'node-4';
  const alertSel = (rule, node, state) =>
    `[data-testid="alert-list"] [data-testid="alert"][data-rule="${rule}"][data-node="${node}"]${state ? `[data-state="${state}"]` : ''}`;

  await check('the Health view shows every node, the partition state and the monitor', async () => {
    await goto('health');
    await page.getByTestId('alert-badge').waitFor();
    await page.locator('[data-testid^="health-node-"]').nth(5).waitFor();
    const rows = await page.locator('[data-testid^="health-node-"]').count();
    await page.getByTestId('partition-headline').filter({ hasText: /whole|split|holds together/ }).waitFor();
    const headline = await page.getByTestId('partition-headline').textContent();
    const interval = (await page.getByTestId('monitor-interval').textContent()).trim().replace(/\s+/g, ' ');
    const cpu = (await page.getByTestId('monitor-cpu').textContent()).trim().replace(/\s+/g, ' ');
    await page.getByTestId('membership-timeline').waitFor();
    await page.waitForTimeout(300);
    await shot('health');
    return `${rows} nodes; "${headline}"; interval ${interval}; monitor ${cpu}`;
  });

  let pressuredAt = 0;
  await check(`CPU pressure on ${hot} (from the palette) raises an alert in the badge and the Health view`, async () => {
    await goto('health');
    await page.getByTestId(`pressure-${hot}`).click();
    await page.getByTestId('palette-op-name').filter({ hasText: 'node_pressure' }).waitFor();
    await page.locator('#palette-cpu').fill('99');
    await page.getByTestId('op-submit').click();
    if (await page.getByTestId('palette-confirm').isVisible().catch(() => false)) await page.getByTestId('confirm-yes').click();
    await page.getByTestId('palette-ok').waitFor();
    pressuredAt = performance.now();
    await page.keyboard.press('Escape');
    await page.locator(`[data-testid="health-node-${hot}"]`).filter({ hasText: /9\d%/ }).waitFor({ timeout: 15000 });
    const cpuShown = performance.now() - pressuredAt;
    await page.locator('[data-testid="alert-badge"]:not([data-warning="0"])').waitFor({ timeout: ALERT_TIMEOUT });
    const badge = performance.now() - pressuredAt;
    const alert = page.locator(alertSel('cpu_high', hot));
    await alert.waitFor();
    await alert.getByTestId('alert-remediation').waitFor();
    const summary = (await alert.locator('.summary').textContent()).trim();
    const evidence = (await alert.getByTestId('alert-evidence').textContent()).trim();
    const buttons = await alert.locator('[data-testid^="remedy-"]').allTextContents();
    if (!buttons.length) throw new Error('the remediation names no runnable operation');
    await page.getByTestId('alert-badge').screenshot({ path: join(outDir, 'health-badge.png') });
    await shot('health-alert');
    return `CPU shown after ${cpuShown.toFixed(0)} ms; alert in the badge after ${badge.toFixed(0)} ms ("${summary}"; evidence ${evidence}; remediation buttons: ${buttons.map((b) => b.trim()).join(', ')})`;
  });

  await check('the badge is on every page and leads to the Health view', async () => {
    await goto('processes');
    const badge = page.locator('[data-testid="alert-badge"]:not([data-total="0"])');
    await badge.waitFor();
    await page.getByTestId('alert-badge-nav').waitFor();
    await badge.click();
    await page.getByTestId('view-title').filter({ hasText: /health/i }).waitFor();
    return (await badge.getAttribute('aria-label')) ?? '';
  });

  await check("the alert's remediation runs its operation through the palette", async () => {
    const alert = page.locator(alertSel('cpu_high', hot));
    const btn = alert.locator('[data-testid^="remedy-"]:not([disabled])').first();
    const op = (await btn.getAttribute('data-testid')).replace(/^remedy-/, '');
    await btn.click();
    await page.getByTestId('palette-op-name').filter({ hasText: op }).waitFor();
    const node = await page.locator('#palette-node').inputValue().catch(() => '');
    await page.getByTestId('op-submit').click();
    if (await page.getByTestId('palette-confirm').isVisible().catch(() => false)) await page.getByTestId('confirm-yes').click();
    await page.getByTestId('palette-ok').waitFor();
    await shot('health-remediation-run');
    await page.keyboard.press('Escape');
    return `${op}${node ? ` node=${node}` : ''} ran from the palette`;
  });

  await check(`the topology rings ${hot} and its drawer charts its resources`, async () => {
    await goto('topology');
    await page.locator(`[data-testid="node-row-${hot}"]:not([data-health="ok"])`).waitFor();
    const status = await page.getByTestId(`node-row-${hot}`).getAttribute('data-health');
    await page.waitForTimeout(400);
    await shot('topology-unhealthy');
    await page.getByTestId(`node-row-${hot}`).click();
    const drawer = page.getByTestId('node-drawer');
    await drawer.getByTestId('resource-chart').waitFor();
    await drawer.getByTestId('drawer-health').waitFor();
    // Points arrive live from `health` events: wait for the chart to grow.
    const count = () => page.evaluate(() => document.querySelectorAll('[data-testid="resource-chart"] .u-over').length);
    if ((await count()) === 0) throw new Error('the chart has no plot area');
    await drawer.getByTestId('drawer-resources-now').filter({ hasText: /CPU 9\d%/ }).waitFor({ timeout: 10000 });
    await page.waitForTimeout(2500);
    await shot('topology-drawer-resources');
    await drawer.getByLabel('Close').click();
    return `${hot} ringed "${status}" in the node list and the graph; drawer chart with live CPU`;
  });

  await check('acknowledge the alert', async () => {
    await goto('health');
    const alert = page.locator(alertSel('cpu_high', hot, 'raised'));
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await page.locator(alertSel('cpu_high', hot, 'acknowledged')).waitFor();
    const active = await api('POST', '/operations/alerts_list', { state: 'active' });
    const a = active.json?.result?.alerts?.find((x) => x.rule === 'cpu_high' && x.node === hot);
    if (a?.state !== 'acknowledged') throw new Error(`alerts_list says ${a?.state ?? 'nothing'} for cpu_high on ${hot}`);
    await shot('health-acknowledged');
    return `acknowledged at ${a.acked_at}`;
  });

  await check('removing the pressure resolves the alert into the history', async () => {
    await api('POST', '/operations/node_pressure_reset', { node: hot }, { 'X-Clusterlab-Confirm': 'true' });
    const t0 = performance.now();
    await page
      .locator(`[data-testid="alert-history"] [data-testid="alert"][data-rule="cpu_high"][data-node="${hot}"]`)
      .first()
      .waitFor({ timeout: ALERT_TIMEOUT });
    return `resolved after ${(performance.now() - t0).toFixed(0)} ms`;
  });

  await check(`crash ${victim} and see it in the membership timeline`, async () => {
    await goto('health');
    const crash = await api('POST', '/operations/node_crash', { node: victim }, { 'X-Clusterlab-Confirm': 'true' });
    if (crash.status !== 200) throw new Error(`node_crash answered ${crash.status}: ${JSON.stringify(crash.json)}`);
    const t0 = performance.now();
    await page.getByTestId('timeline-node').selectOption(victim);
    // The newest down episode of the victim, still open, with the observers that saw it dead.
    const open = page.getByTestId(`episode-${victim}`).filter({ hasText: 'still down' });
    await open.waitFor({ timeout: 30000 });
    const seen = performance.now() - t0;
    await page.locator(`[data-testid="timeline-mark"][data-kind="dead"][data-subject="${victim}"]`).first().waitFor();
    const observers = await page.evaluate((v) => {
      const first = [...document.querySelectorAll(`[data-testid="episode-${v}"]`)].find((r) => r.textContent.includes('still down'));
      return Number(first?.querySelector('td[rowspan]')?.getAttribute('rowspan') ?? 0);
    }, victim);
    await page.locator('[data-testid="alert-badge"]:not([data-critical="0"])').waitFor({ timeout: ALERT_TIMEOUT });
    await page.locator(alertSel('node_down', victim)).waitFor();
    await page.getByTestId('membership-timeline').scrollIntoViewIfNeeded();
    await page.waitForTimeout(500);
    await shot('health-timeline-crash');
    await page.getByTestId('membership-timeline').screenshot({ path: join(outDir, 'health-timeline.png') });
    return `dead in the timeline after ${seen.toFixed(0)} ms, seen down by ${observers} observers; node_down alert critical in the badge`;
  });

  await check(`restart ${victim}: the timeline shows the rejoin and the alert resolves`, async () => {
    await api('POST', '/operations/node_restart', { node: victim }, { 'X-Clusterlab-Confirm': 'true' });
    const t0 = performance.now();
    await page
      .locator(`[data-testid="timeline-mark"][data-subject="${victim}"]:is([data-kind="rejoin"],[data-kind="join"])`)
      .last()
      .waitFor({ timeout: 30000 });
    await page
      .locator(`[data-testid="alert-history"] [data-testid="alert"][data-rule="node_down"][data-node="${victim}"]`)
      .first()
      .waitFor({ timeout: ALERT_TIMEOUT });
    await page.getByTestId(`episode-${victim}`).filter({ hasText: 'still down' }).waitFor({ state: 'detached', timeout: 30000 });
    await page.getByTestId('timeline-node').selectOption('');
    await page.waitForTimeout(300);
    await shot('health-after');
    return `rejoin and resolve after ${(performance.now() - t0).toFixed(0)} ms`;
  });
}

// Standalone: start (or find) the server, open the page, run the checks.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = [];
  const check = async (name, fn) => {
    const t0 = performance.now();
    try {
      const detail = await fn();
      results.push({ name, ok: true });
      console.log(`ok   ${name} (${(performance.now() - t0).toFixed(0)} ms)${detail ? ` — ${detail}` : ''}`);
    } catch (err) {
      results.push({ name, ok: false });
      console.log(`FAIL ${name} (${(performance.now() - t0).toFixed(0)} ms) — ${String(err?.message ?? err).split('\n')[0]}`);
    }
  };
  const srv = await server();
  const api = apiClient(srv.url, srv.token);
  const { context, userDataDir } = await launch();
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(Number(process.env.E2E_STEP_TIMEOUT ?? 20000));
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const shot = (name) => page.screenshot({ path: join(outDir, `${name}.png`) });
    const goto = async (view) => {
      if (await page.getByTestId('palette').isVisible()) await page.keyboard.press('Escape');
      await page.getByTestId(`nav-${view}`).click();
      await page.getByTestId('view-title').filter({ hasText: new RegExp(view, 'i') }).waitFor();
    };
    await page.goto(`${srv.url}/?token=${srv.token}`);
    await page.locator('[data-testid^="node-row-"][data-role="worker"]').nth(4).waitFor();
    await healthChecks({ page, api, check, shot, goto });
    await check('no uncaught errors in the page', async () => {
      if (errors.length) throw new Error(errors.slice(0, 5).join(' | '));
    });
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
    await srv.stop();
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}
