import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { TraceSession } from './trace.svelte';
import { flush, testApi } from './testkit';

describe('TraceSession', () => {
  it('polls for events after the last sequence number until the session ends', async () => {
    const timers = new FakeTimers();
    let round = 0;
    const api = testApi((_m, _p, body) => {
      round++;
      const after = (body as { after?: number }).after ?? 0;
      const events = [1, 2, 3].filter((s) => s > after && s <= round + 1).map((seq) => ({ seq, time: '', node: 'n1', pid: 'n1/1', kind: 'receive', from: 'n2/4' }));
      return { json: { result: { info: { id: 'n1/1', pid: 'n1/1', node: 'n1', ended: round >= 3 ? '2025-01-01T00:00:00Z' : '0001-01-01T00:00:00Z' }, events } } };
    });
    const op = { name: 'trace_get', category: 'traces', summary: '', params: [{ name: 'id', type: 'string' as const }, { name: 'after', type: 'int' as const }] };
    const s = new TraceSession(api.client, api.events, op, 'n1/1', timers);
    const stop = s.start(500);
    await flush();
    expect(s.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(s.running).toBe(true);
    timers.advance(500);
    await flush();
    expect(api.calls[1].body).toEqual({ id: 'n1/1', after: 2 });
    expect(s.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    timers.advance(500);
    await flush();
    expect(s.running).toBe(false);
    expect(s.sequence.lanes.map((l) => l.pid)).toEqual(['n1/1', 'n2/4']);
    // Ended: polls slow down.
    timers.advance(500);
    await flush();
    expect(api.calls).toHaveLength(3);
    // Live events from the traces topic land without a poll.
    api.emit('traces', { events: [{ trace: 'n1/1', event: { seq: 4, time: '', node: 'n1', pid: 'n1/1', kind: 'exit', reason: 'killed' } }, { trace: 'other', event: { seq: 9 } }], dropped: 0 });
    expect(s.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    stop();
  });
});
