/**
 * An HTTP thread for fault injection (test/integration/gpu-service/http-threads.test.ts): the real
 * http-thread.ts, which exits with code 9 when a state snapshot names a model `crash-http-<index>`,
 * as a thread that dies while serving would.
 */
import { parentPort, workerData } from "node:worker_threads";
import "../../gpu-service/src/router/http-thread.ts";

const { index } = workerData as { index: number };
parentPort!.on(
  "message",
  (message: { type: string; state?: { models: { signature: { name: string } }[] } }) => {
    if (
      message.type === "state" &&
      message.state!.models.some((m) => m.signature.name === `crash-http-${index}`)
    )
      process.exit(9);
  },
);
