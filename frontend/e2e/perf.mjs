// Measures the Processes view with many processes in the cluster: it fills
// the cluster up to PERF_PROCESSES (default 100 000) echo processes through
// sandboxes of 1000, then, in chromium, times filter and sort round trips
// (the list_processes request as the store measures it, and click to
// rendered rows) and counts long frames while scrolling the virtualized
// table. Same server options as run.mjs; results go to stdout and to
// test-results/perf.json.
//
//   CLUSTERLAB_BIN=/path/to/clusterlab node e2e/perf.mjs

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiClient, launch, outDir, server } from './lib.mjs';

const WANT = Number(process.env.PERF_PROCESSES ?? 100000);
const RUNS = Number(process.env.PERF_RUNS ?? 10);

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: q(0.5), p90: q(0.9), max: s[s.length - 1] };
}
const fmt = (st) => `p50 ${st.p50.toFixed(1)} ms, p90 ${st.p90.toFixed(1)} ms, max ${st.max.toFixed(1)} ms (n=${st.n})`;

async function main() {
  const srv = await server();
  const api = apiClient(srv.url, srv.token);
  const report = {};
  try {
    let total = (await api('GET', '/processes?limit=1')).json.total;
    const t0 = performance.now();
    for (let i = 0; total < WANT; i++) {
      const count = Math.min(1000, WANT - total);
      const r = await api('POST', '/operations/sandbox_create', { name: `perf-${Date.now().toString(36)}-${i}`, spread: 5, behavior: 'echo', count });
      if (r.status !== 200) throw new Error(`sandbox_create: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
      total += count;
    }
    const after = (await api('GET', '/processes?limit=1')).json;
    if (after.missing?.length) {
      console.log(`the backend could not list every node: ${after.missing.map((m) => `${m.node}: ${m.message}`).join('; ')}`);
    }
    total = after.total;
    report.processes = total;
    report.missing = after.missing ?? [];
    report.fillSeconds = (performance.now() - t0) / 1000;
    console.log(`cluster holds ${total} processes (filled in ${report.fillSeconds.toFixed(1)} s)`);

    // The API alone, from node, for comparison.
    const direct = [];
    for (let i = 0; i < RUNS; i++) {
      const q = i % 2 ? '?sort=mailbox&desc=true&limit=200' : '?behavior=echo&name=x&limit=200';
      const s = performance.now();
      await api('GET', `/processes${q}`);
      direct.push(performance.now() - s);
    }
    report.apiDirect = stats(direct);
    console.log(`list_processes over HTTP from node: ${fmt(report.apiDirect)}`);

    const { context, userDataDir } = await launch();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(60000);
      await page.goto(`${srv.url}/?token=${srv.token}#/processes`);
      await page.getByTestId('process-row').first().waitFor();
      await page.waitForFunction(() => !window.clusterlab.processes.loading);
      const seen = await page.evaluate(() => ({ total: window.clusterlab.processes.total, missing: window.clusterlab.processes.missing.map((m) => m.node) }));
      if (seen.missing.length) console.log(`the page sees ${seen.total} processes; no answer from ${seen.missing.join(', ')}`);
      await page.evaluate(() => window.clusterlab.processes.setLive(false));

      const storeRT = [];
      const clickRT = [];
      const fields = ['mailbox', 'messages_in', 'behavior', 'node', 'pid'];
      for (let i = 0; i < RUNS; i++) {
        const f = fields[i % fields.length];
        const s = performance.now();
        await page.getByTestId(`sort-${f}`).click();
        await page.waitForFunction(() => !window.clusterlab.processes.loading);
        await page.getByTestId('process-row').first().waitFor();
        clickRT.push(performance.now() - s);
        storeRT.push(await page.evaluate(() => window.clusterlab.processes.roundTripMs));
      }
      for (let i = 0; i < RUNS; i++) {
        const value = i % 2 ? 'echo' : 'counter';
        const s = performance.now();
        await page.getByTestId('filter-behavior').fill(value);
        // The text filter waits 250 ms for typing to pause; subtract it.
        await page.waitForFunction((v) => window.clusterlab.processes.filters.behavior === v && !window.clusterlab.processes.loading, value);
        clickRT.push(performance.now() - s - 250);
        storeRT.push(await page.evaluate(() => window.clusterlab.processes.roundTripMs));
      }
      await page.getByTestId('filter-behavior').fill('');
      await page.waitForFunction(() => window.clusterlab.processes.filters.behavior === '' && !window.clusterlab.processes.loading);
      report.filterSortStore = stats(storeRT);
      report.filterSortClick = stats(clickRT);
      console.log(`filter/sort round trip (request, in the page): ${fmt(report.filterSortStore)}`);
      console.log(`filter/sort click to rendered rows: ${fmt(report.filterSortClick)}`);

      // Load the rows the scroll passes over first, so it measures rendering
      // real rows (unloaded rows render as placeholders until their page arrives).
      await page.evaluate(() => window.clusterlab.processes.ensureLoaded(3000));
      // Scrolling: 3 s of steady scrolling (one step per frame), then a jump
      // to the middle; count frames longer than 1.5 × the median frame.
      // Load the rows the scroll passes over first, so it measures rendering
      // real rows (unloaded rows render as placeholders until their page arrives).
      await page.evaluate(() => window.clusterlab.processes.ensureLoaded(3000));
      // Scrolling: 3 s of steady scrolling (one step per frame) of the
      // table, and the same over an empty div of the same height as the
      // machine's baseline; long tasks (> 50 ms of script) are counted.
      const scroll = await page.evaluate(async () => {
        const run = async (el) => {
          const longTasks = [];
          const obs = new PerformanceObserver((l) => longTasks.push(...l.getEntries().map((e) => e.duration)));
          obs.observe({ entryTypes: ['longtask'] });
          const frames = [];
          let last = performance.now();
          const end = last + 3000;
          await new Promise((done) => {
            const step = (t) => {
              frames.push(t - last);
              last = t;
              el.scrollTop += 120;
              if (t < end) requestAnimationFrame(step);
              else done();
            };
            requestAnimationFrame(step);
          });
          obs.disconnect();
          const sorted = [...frames].sort((a, b) => a - b);
          return {
            frames: frames.length,
            median: sorted[Math.floor(sorted.length / 2)],
            p95: sorted[Math.floor(sorted.length * 0.95)],
            over50: frames.filter((f) => f > 50).length,
            longTasks: longTasks.length,
            longTaskMs: longTasks.reduce((a, b) => a + b, 0),
          };
        };
        const el = document.querySelector('[data-testid="process-table"] .scroller');
        const table = await run(el);
        table.rendered = document.querySelectorAll('[data-testid="process-row"]').length;
        table.loaded = window.clusterlab.processes.rows.length;
        const base = document.createElement('div');
        base.style.cssText = `position:fixed;inset:0;overflow:auto;z-index:99;background:#111`;
        base.innerHTML = `<div style="height:${el.scrollHeight}px"></div>`;
        document.body.appendChild(base);
        const baseline = await run(base);
        base.remove();
        el.scrollTop = el.scrollHeight / 2;
        return { table, baseline };
      });
      await page.waitForFunction(() => !document.querySelector('[data-testid="process-table"] .placeholder'), null, { timeout: 60000 });
      report.scroll = scroll;
      const line = (x) =>
        `${x.frames} frames in 3 s, median ${x.median.toFixed(1)} ms, p95 ${x.p95.toFixed(1)} ms, ${x.over50} over 50 ms, ${x.longTasks} long tasks (${x.longTaskMs.toFixed(0)} ms)`;
      console.log(`scrolling the table: ${line(scroll.table)}; ${scroll.table.rendered} rows in the DOM of ${scroll.table.loaded} loaded`);
      console.log(`scrolling an empty div (machine baseline): ${line(scroll.baseline)}`);
      await page.screenshot({ path: join(outDir, 'perf-processes.png') });
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  } finally {
    await srv.stop();
  }
  writeFileSync(join(outDir, 'perf.json'), JSON.stringify(report, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
