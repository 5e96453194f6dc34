import { beforeEach, describe, expect, it } from 'vitest';
import { FakeTimers } from '../logic/fakeTimers';
import { EventStream, parseEventData, type EventStatus } from './events';
import { FakeEventSource, fakeRuntime } from './fakes';
import type { ClusterEvent } from './types';

function sseStream(timers = new FakeTimers()) {
  const s = new EventStream({
    url: (last) => `/api/v1/events?token=t${last ? `&last_event_id=${last}` : ''}`,
    factory: (url) => new FakeEventSource(url),
    setTimer: (fn, ms) => timers.set(fn, ms),
    clearTimer: (t) => timers.clear(t),
    minBackoff: 100,
    maxBackoff: 400,
  });
  return { s, timers };
}

beforeEach(() => {
  FakeEventSource.instances = [];
});

describe('EventStream over SSE', () => {
  it('connects on the first subscription and delivers by topic', () => {
    const { s } = sseStream();
    expect(FakeEventSource.instances).toHaveLength(0);
    const got: ClusterEvent[] = [];
    s.subscribe('membership', (ev) => got.push(ev));
    const es = FakeEventSource.instances[0];
    expect(es.url).toBe('/api/v1/events?token=t');
    es.open();
    expect(s.status).toBe('open');
    es.emit('membership', { members: [] }, '7');
    es.emit('process.exits', { exits: [] }, '8');
    expect(got).toEqual([{ topic: 'membership', id: '7', data: { members: [] } }]);
    expect(s.lastEventId).toBe('7');
  });

  it('multiplexes one listener per topic and disconnects when the last subscriber leaves', () => {
    const { s } = sseStream();
    let a = 0;
    let b = 0;
    const offA = s.subscribe('membership', () => a++);
    const offB = s.subscribe('membership', () => b++);
    const es = FakeEventSource.instances[0];
    expect(es.listeners.get('membership')?.size).toBe(1);
    es.emit('membership', {});
    expect([a, b]).toEqual([1, 1]);
    offA();
    offA(); // idempotent
    es.emit('membership', {});
    expect([a, b]).toEqual([1, 2]);
    offB();
    expect(es.closed).toBe(true);
    expect(s.status).toBe('idle');
  });

  it('adds a listener for a topic subscribed after connecting', () => {
    const { s } = sseStream();
    s.subscribe('membership', () => {});
    const got: unknown[] = [];
    s.subscribe('operations', (ev) => got.push(ev.data));
    FakeEventSource.instances[0].emit('operations', { version: 3 });
    expect(got).toEqual([{ version: 3 }]);
  });

  it('reads topics inside unnamed messages', () => {
    const { s } = sseStream();
    const got: unknown[] = [];
    s.subscribe('alert', (ev) => got.push(ev.data));
    FakeEventSource.instances[0].emit('message', { topic: 'alert', data: { id: 1 } }, '3');
    expect(got).toEqual([{ id: 1 }]);
  });

  it('reconnects with backoff from the last event id when the browser gives up', () => {
    const { s, timers } = sseStream();
    const statuses: EventStatus[] = [];
    s.onStatus((st) => statuses.push(st));
    s.subscribe('membership', () => {});
    const es1 = FakeEventSource.instances[0];
    es1.open();
    es1.emit('membership', {}, '41');
    es1.fail(false); // the browser retries by itself
    expect(FakeEventSource.instances).toHaveLength(1);
    es1.fail(true); // closed: our turn
    expect(es1.closed).toBe(true);
    timers.advance(99);
    expect(FakeEventSource.instances).toHaveLength(1);
    timers.advance(1);
    const es2 = FakeEventSource.instances[1];
    expect(es2.url).toBe('/api/v1/events?token=t&last_event_id=41');
    es2.fail(true);
    timers.advance(199);
    expect(FakeEventSource.instances).toHaveLength(2);
    timers.advance(1);
    expect(FakeEventSource.instances).toHaveLength(3);
    FakeEventSource.instances[2].open();
    expect(statuses).toEqual(['idle', 'connecting', 'open', 'reconnecting', 'open']);
  });

  it('a handler that throws does not stop the others', () => {
    const { s } = sseStream();
    let ok = 0;
    s.subscribe('membership', () => {
      throw new Error('boom');
    });
    s.subscribe('membership', () => ok++);
    const orig = console.error;
    console.error = () => {};
    FakeEventSource.instances[0].emit('membership', {});
    console.error = orig;
    expect(ok).toBe(1);
  });

  it('close stops reconnecting', () => {
    const { s, timers } = sseStream();
    s.subscribe('membership', () => {});
    FakeEventSource.instances[0].fail(true);
    s.close();
    timers.advance(10_000);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(s.status).toBe('closed');
  });
});

describe('EventStream over Wails', () => {
  it('uses window.runtime.EventsOn and its unsubscribe', () => {
    const rt = fakeRuntime();
    const s = new EventStream({ url: () => '/never', runtime: rt, factory: () => { throw new Error('no SSE in the window'); } });
    const got: unknown[] = [];
    const off = s.subscribe('membership', (ev) => got.push(ev.data));
    expect(s.usesWails).toBe(true);
    expect(s.status).toBe('open');
    rt.emit('membership', '{"members":[]}');
    rt.emit('membership', { already: 'decoded' });
    expect(got).toEqual([{ members: [] }, { already: 'decoded' }]);
    expect(rt.count('membership')).toBe(1);
    off();
    expect(rt.count('membership')).toBe(0);
  });
});

describe('parseEventData', () => {
  it('JSON when it is, the string otherwise', () => {
    expect(parseEventData('{"a":1}')).toEqual({ a: 1 });
    expect(parseEventData('hello')).toBe('hello');
    expect(parseEventData('x'.repeat((4 << 20) + 1))).toEqual({ dropped: true, bytes: (4 << 20) + 1 });
  });
});
