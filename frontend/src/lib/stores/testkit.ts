// Helpers for store tests: an Api over a fake fetch and fake events.

import { ApiClient } from '../api/client';
import { EventStream } from '../api/events';
import { fakeFetch, fakeRuntime, type Answer } from '../api/fakes';

/** testApi builds a client over a routed fake fetch and an event stream fed by a fake runtime. */
export function testApi(handler: (method: string, path: string, body: unknown) => Answer | Promise<Answer>) {
  const f = fakeFetch(handler);
  const rt = fakeRuntime();
  const client = new ApiClient({ fetch: f.fetch, token: 't' });
  const events = new EventStream({ url: () => '', runtime: rt });
  return { client, events, calls: f.calls, emit: rt.emit };
}

/** deferred is a promise a test resolves by hand. */
export function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** flush lets pending promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}
