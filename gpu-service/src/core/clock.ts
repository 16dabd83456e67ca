/**
 * Time for the batcher, injected so that every batching rule is tested with a fake clock
 * (test/unit/gpu-service/fake.ts) and runs on the real one in production.
 */
export interface Clock {
  /** Milliseconds, fractional allowed, monotonic. */
  now(): number;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /** Runs `fn` on the next turn of the event loop, after the I/O of this one. */
  defer(fn: () => void): void;
}

/** The real clock: performance.now(), global timers, and setImmediate for the next turn. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  defer: (fn) => setImmediate(fn),
};
