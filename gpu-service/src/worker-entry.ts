/**
 * Where a worker thread's module is: its .ts source under tsx (development, tests), or its bundled
 * file next to dist/gpu-service.mjs (gpu-service/build.mjs bundles each thread's entry on its own).
 */
export function workerEntry(source: URL, bundledName: string): { url: URL; execArgv?: string[] } {
  if (import.meta.url.endsWith(".ts")) {
    // The parent may run under vitest or tsx; the thread needs tsx's loader for its .ts imports.
    const execArgv = process.execArgv.includes("tsx")
      ? process.execArgv
      : [...process.execArgv, "--import", "tsx"];
    return { url: source, execArgv };
  }
  return { url: new URL(`./${bundledName}`, import.meta.url) };
}
