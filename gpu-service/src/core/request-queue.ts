/**
 * The batcher's queue of requests, oldest first, with O(1) push, O(1) amortised removal from the
 * front and O(1) cancellation: a cancelled request is only marked (`settled`), and the scan that
 * forms the next run steps over it (lazy removal, as text-embeddings-inference's queue does). No
 * `indexOf`/`splice` per request, no copy of the queue per run.
 */
import type { Row } from "./batch.ts";

/** One request in the queue: its rows, how many of them were dispatched, and its promise. */
export interface Pending {
  rows: Row[];
  /** Row indices in dispatch order (shortest first). */
  order: number[];
  /** Next position in `order` to dispatch; `rows.length` once every row is in a run. */
  next: number;
  /** Rows whose outputs are back. */
  done: number;
  output: Float32Array | null;
  width: number;
  enqueuedAt: number;
  deadline: number;
  /** Resolved or rejected: its remaining rows are skipped, its place is reclaimed lazily. */
  settled: boolean;
  resolve: (out: { data: Float32Array; width: number }) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
}

/** Still waiting for some of its rows to be dispatched. */
export const isQueued = (p: Pending): boolean => !p.settled && p.next < p.rows.length;

export class RequestQueue {
  private items: Pending[] = [];
  private head = 0;

  push(p: Pending): void {
    this.items.push(p);
  }

  /** The oldest request that still has rows to dispatch; drops finished or cancelled ones before it. */
  first(): Pending | undefined {
    while (this.head < this.items.length && !isQueued(this.items[this.head]!)) this.head++;
    this.compact();
    return this.items[this.head];
  }

  /** Queued requests from the oldest, skipping cancelled and fully dispatched ones. */
  *queued(): Generator<Pending> {
    for (let i = this.head; i < this.items.length; i++) {
      const p = this.items[i]!;
      if (isQueued(p)) yield p;
    }
  }

  /** Entries kept, live or not yet reclaimed (for tests of the O(1) claims). */
  get retained(): number {
    return this.items.length - this.head;
  }

  /** Reclaims the dead prefix once it is both long and most of the array: amortised O(1) per entry. */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
