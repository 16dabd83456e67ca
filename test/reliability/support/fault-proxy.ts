/**
 * A TCP proxy between the edge and gpu-service that injects faults without touching either:
 * `delayMs` holds every byte from the client for that long before forwarding it (a slow network or
 * a slow model: the edge's deadline must fire), and when the target refuses (gpu-service killed)
 * the client's connection is reset, as a load balancer in front of a dead host does.
 * Listens on 127.0.0.1 only.
 */

import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type Socket } from "node:net";

export interface FaultProxy {
  url: string;
  port: number;
  /** Where connections go; change it to follow a restarted target. */
  targetPort: number;
  delayMs: number;
  connections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const state = { targetPort, delayMs: 0, connections: 0 };
  const server: Server = createServer((client) => {
    state.connections++;
    sockets.add(client);
    const upstream = connect(state.targetPort, "127.0.0.1");
    sockets.add(upstream);
    // Chunks keep their order: each waits for its own due time and for the chunk before it.
    let previous = Promise.resolve();
    client.on("data", (chunk) => {
      const due = Date.now() + state.delayMs;
      previous = previous.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (upstream.writable) upstream.write(chunk);
      });
    });
    upstream.on("data", (chunk) => client.writable && client.write(chunk));
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop);
    upstream.on("error", () => client.resetAndDestroy());
    client.on("close", drop);
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  });
}
