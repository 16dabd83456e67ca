/**
 * The Worker's V8 isolate seen through its DevTools inspector (wrangler dev's inspector proxy):
 * heap used after a full garbage collection, the number that "memory per isolate" means. workerd
 * answers HeapProfiler.takeHeapSnapshot (which collects garbage first) but not collectGarbage.
 */
import WebSocket from "ws";

export interface IsolateInspector {
  /** Bytes of V8 heap in use after a full GC. */
  heapUsedAfterGc(): Promise<number>;
  close(): void;
}

export async function connectInspector(inspectorUrl: URL): Promise<IsolateInspector> {
  const targets = (await (await fetch(`http://${inspectorUrl.host}/json`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    pending.delete(message.id ?? -1);
  });
  const call = <T>(method: string, params: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in 30 s`)), 30_000);
      pending.set(id, (result) => {
        clearTimeout(timer);
        resolve(result as T);
      });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await call("HeapProfiler.enable");
  return {
    async heapUsedAfterGc() {
      // The snapshot's chunks arrive as events and are dropped; taking it forces a full GC.
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
      return (await call<{ usedSize: number }>("Runtime.getHeapUsage")).usedSize;
    },
    close: () => ws.close(),
  };
}
