/**
 * Direct runs, an HTTP thread's side (backends/session-pool.ts, "Direct runs", has the pool's).
 * When a model is idle its pool opens a gate naming one of its session threads; the HTTP thread that
 * claims it (one compare-and-swap on shared memory) pads the requests of its event-loop turn the
 * way the batcher would (core/run-form.ts), sends them over its port to that session thread and
 * gets the outputs back on the same port. One text on an idle model then crosses two threads, not
 * four; under load the gate stays shut and every row goes through the main thread's batcher.
 *
 * A request is answered exactly once: with its outputs, with the run's error, with
 * BackendUnavailableError when the session thread dies during the run (its port closes), or with
 * DeadlineError when its deadline passes first (a late result is then dropped).
 */
import type { MessagePort } from "node:worker_threads";
import type { DirectRunMessage, RunOutcome } from "../backends/session-thread.ts";
import type { Row } from "../core/batch.ts";
import { BackendUnavailableError, DeadlineError } from "../core/errors.ts";
import { formRun, paddedLength, paddedRows } from "../core/run-form.ts";
import type { DirectSnapshot } from "./http-thread-protocol.ts";

/** A request the thread holds: its rows, and how to answer it. */
export interface HeldRequest {
  id: number;
  rows: Row[];
  deadline: number;
}

/** How the runner answers a request (the thread's table of waiting callers). */
export interface Answer {
  resolve(id: number, out: { data: Float32Array; width: number }): void;
  reject(id: number, error: Error): void;
}

interface Peer {
  pool: number;
  port: MessagePort;
}

interface Run {
  peer: Peer;
  requests: { id: number; rows: number }[];
  /** Rows in the run, dummies included. */
  runRows: number;
  outputRows: Int32Array | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class DirectRunner {
  /** model → session index → its port. */
  private readonly peers = new Map<string, Map<number, Peer>>();
  private readonly runs = new Map<number, Run>();
  private nextRun = 1;

  /** @param claim what this thread writes into a gate it claims: minus its index. */
  constructor(
    private readonly claim: number,
    private readonly answer: Answer,
  ) {
    if (claim >= 0) throw new RangeError("a claim is negative");
  }

  /** A port to session thread `session` of `model`'s pool `pool` (replaces an older one). */
  addPeer(model: string, pool: number, session: number, port: MessagePort): void {
    let sessions = this.peers.get(model);
    if (sessions === undefined) {
      sessions = new Map();
      this.peers.set(model, sessions);
    }
    const peer: Peer = { pool, port };
    // An older port for the same thread number (a restarted thread, a reloaded model's old pool) is
    // not closed: a run on it may still answer; it closes when its thread ends.
    sessions.set(session, peer);
    port.on("message", (outcome: RunOutcome) => this.onOutcome(outcome));
    port.on("close", () => {
      if (sessions.get(session) === peer) sessions.delete(session);
      for (const [id, run] of this.runs)
        if (run.peer === peer)
          this.fail(id, new BackendUnavailableError("the session thread stopped during the run; retry"));
    });
  }

  /**
   * Forgets the ports of models no longer served: no new run goes to them, and a run in flight still
   * gets its answer (the ports close when their threads end, after the pool has drained).
   */
  keepOnly(models: ReadonlySet<string>): void {
    for (const model of this.peers.keys()) if (!models.has(model)) this.peers.delete(model);
  }

  /**
   * Runs the requests directly if the model's gate is open and they fit one run of the batcher's
   * limits; returns false (and takes nothing) otherwise.
   */
  tryRun(model: string, direct: DirectSnapshot | undefined, requests: readonly HeldRequest[]): boolean {
    if (direct === undefined || requests.length === 0) return false;
    // Under load the gate is shut: find that out before touching any row.
    const open = Atomics.load(direct.gate, 0);
    if (open <= 0) return false;
    const peer = this.peers.get(model)?.get(open - 1);
    if (peer === undefined || peer.pool !== direct.pool) return false;
    const rows: Row[] = [];
    let longest = 0;
    for (const r of requests)
      for (const row of r.rows) {
        // Rows the batcher would refuse go its way, to be refused the same way.
        if (row.ids.length === 0 || row.ids.length > direct.padding.maxSeqLength) return false;
        longest = Math.max(longest, row.ids.length);
        rows.push(row);
      }
    if (rows.length > direct.maxBatchSize) return false;
    if (
      paddedRows(direct.padding, rows.length) * paddedLength(direct.padding, longest) >
      direct.maxBatchTokens
    )
      return false;
    if (Atomics.compareExchange(direct.gate, 0, open, this.claim) !== open) return false;

    const { batch, outputRows } = formRun(rows, direct.padding);
    const id = this.nextRun++;
    const run: Run = {
      peer,
      requests: requests.map((r) => ({ id: r.id, rows: r.rows.length })),
      runRows: batch.rows,
      outputRows,
      timer: undefined,
    };
    const deadline = Math.min(...requests.map((r) => r.deadline));
    if (Number.isFinite(deadline))
      run.timer = setTimeout(
        () => this.fail(id, new DeadlineError()),
        Math.max(0, deadline - performance.now()),
      );
    this.runs.set(id, run);
    const message: DirectRunMessage = { id, ...batch, realRows: rows.length };
    peer.port.postMessage(message, [
      batch.inputIds.buffer as ArrayBuffer,
      batch.attentionMask.buffer as ArrayBuffer,
    ]);
    return true;
  }

  private onOutcome(outcome: RunOutcome): void {
    const run = this.take(outcome.id);
    if (run === undefined) return;
    if (outcome.type === "error") {
      for (const r of run.requests) this.answer.reject(r.id, new Error(outcome.message));
      return;
    }
    const { logits } = outcome;
    const width = logits.length / run.runRows;
    if (!Number.isInteger(width) || width < 1) {
      const error = new Error(`model returned ${logits.length} values for ${run.runRows} rows`);
      for (const r of run.requests) this.answer.reject(r.id, error);
      return;
    }
    let row = 0;
    for (const r of run.requests) {
      const data = new Float32Array(r.rows * width);
      for (let i = 0; i < r.rows; i++, row++) {
        const o = run.outputRows === undefined ? row : run.outputRows[row]!;
        data.set(logits.subarray(o * width, (o + 1) * width), i * width);
      }
      this.answer.resolve(r.id, { data, width });
    }
  }

  private fail(id: number, error: Error): void {
    const run = this.take(id);
    if (run !== undefined) for (const r of run.requests) this.answer.reject(r.id, error);
  }

  private take(id: number): Run | undefined {
    const run = this.runs.get(id);
    if (run === undefined) return undefined;
    this.runs.delete(id);
    clearTimeout(run.timer);
    return run;
  }
}
