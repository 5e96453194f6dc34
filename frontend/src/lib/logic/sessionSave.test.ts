import { describe, expect, it } from 'vitest';
import { FakeTimers } from './fakeTimers';
import { DebouncedSaver } from './sessionSave';
import { deferred, flush } from '../stores/testkit';

function setup(opts: { fail?: boolean } = {}) {
  const timers = new FakeTimers();
  const saved: string[] = [];
  const errors: unknown[] = [];
  const s = new DebouncedSaver<{ v: string }>(
    async (x) => {
      if (opts.fail) throw new Error('disk full');
      saved.push(x.v);
    },
    { timers, delayMs: 500, maxWaitMs: 3000, onError: (e) => errors.push(e) },
  );
  return { timers, saved, errors, s };
}

describe('DebouncedSaver', () => {
  it('saves once after the changes pause, with the newest state', async () => {
    const { timers, saved, s } = setup();
    s.schedule({ v: 'a' });
    timers.advance(200);
    s.schedule({ v: 'b' });
    timers.advance(200);
    s.schedule({ v: 'c' });
    timers.advance(499);
    await flush();
    expect(saved).toEqual([]);
    timers.advance(1);
    await flush();
    expect(saved).toEqual(['c']);
    expect(s.pending).toBe(false);
  });

  it('saves at the latest after maxWait while changes keep coming', async () => {
    const { timers, saved, s } = setup();
    for (let t = 0; t < 3000; t += 100) {
      s.schedule({ v: `v${t}` });
      timers.advance(100);
    }
    await flush();
    expect(saved).toHaveLength(1);
  });

  it('does not send what the server already has', async () => {
    const { timers, saved, s } = setup();
    s.baseline({ v: 'a' });
    s.schedule({ v: 'a' });
    timers.advance(1000);
    await flush();
    expect(saved).toEqual([]);
    s.schedule({ v: 'b' });
    s.schedule({ v: 'a' }); // back to the baseline before the save: nothing to do
    timers.advance(1000);
    await flush();
    expect(saved).toEqual([]);
  });

  it('runs one save at a time and then the newest', async () => {
    const timers = new FakeTimers();
    const gate = deferred<void>();
    const saved: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const s = new DebouncedSaver<string>(
      async (v) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (v === 'a') await gate.promise;
        saved.push(v);
        inFlight--;
      },
      { timers, key: (v) => v },
    );
    s.schedule('a');
    timers.advance(500);
    await flush();
    s.schedule('b');
    timers.advance(500);
    s.schedule('c');
    timers.advance(500);
    await flush();
    expect(saved).toEqual([]);
    gate.resolve();
    await flush();
    await s.flush();
    expect(saved).toEqual(['a', 'c']);
    expect(maxInFlight).toBe(1);
  });

  it('flush saves at once; cancel drops', async () => {
    const { saved, s } = setup();
    s.schedule({ v: 'x' });
    await s.flush();
    expect(saved).toEqual(['x']);
    s.schedule({ v: 'y' });
    s.cancel();
    await s.flush();
    expect(saved).toEqual(['x']);
  });

  it('reports a failed save and saves again on the next change', async () => {
    const { timers, errors, s } = setup({ fail: true });
    s.schedule({ v: 'x' });
    timers.advance(500);
    await flush();
    expect(errors).toHaveLength(1);
    expect(s.failures).toBe(1);
    expect(s.pending).toBe(false);
  });
});
