/**
 * A fake session thread for fault injection (test/integration/gpu-service/session-pool.test.ts,
 * http-threads.test.ts): speaks session-thread.ts's protocol, direct runs on peer ports included,
 * answers zero logits of 60 labels, and exits with code 7 in the middle of any run of exactly 13
 * rows, as a thread that crashes while holding a run would. A direct run of exactly 5 rows takes
 * 300 ms, so a test can act while one is in flight.
 */
import { type MessagePort, parentPort } from "node:worker_threads";

const port = parentPort!;
const zeros = (rows: number) => new Float32Array(rows * 60);
port.postMessage({ type: "ready", provider: "cpu", variant: "fp32", warmupRuns: 0 });
port.on("message", (message: { type?: string; port?: MessagePort; id: number; rows: number }) => {
  if (message.type === "peer") {
    const peer = message.port!;
    peer.on("message", async (run: { id: number; rows: number; realRows: number }) => {
      if (run.rows === 13) process.exit(7);
      if (run.rows === 5) await new Promise((r) => setTimeout(r, 300));
      const logits = zeros(run.rows);
      peer.postMessage({ type: "result", id: run.id, logits }, [logits.buffer]);
      port.postMessage({ type: "direct-done", rows: run.realRows, tokens: 0, parts: 1, ms: 0, ok: true });
    });
    return;
  }
  if (message.rows === 13) process.exit(7);
  const logits = zeros(message.rows);
  port.postMessage({ type: "result", id: message.id, logits }, [logits.buffer]);
});
