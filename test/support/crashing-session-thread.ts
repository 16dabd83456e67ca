/**
 * A fake session thread for fault injection (test/integration/gpu-service/session-pool.test.ts):
 * speaks session-thread.ts's protocol, answers zero logits of 60 labels, and exits with code 7 in
 * the middle of any run of exactly 13 rows, as a thread that crashes while holding a run would.
 */
import { parentPort } from "node:worker_threads";

const port = parentPort!;
port.postMessage({ type: "ready", provider: "cpu", variant: "fp32", warmupRuns: 0 });
port.on("message", (message: { id: number; rows: number }) => {
  if (message.rows === 13) process.exit(7);
  const logits = new Float32Array(message.rows * 60);
  port.postMessage({ type: "result", id: message.id, logits }, [logits.buffer]);
});
