import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildWorker,
  inlineTextModules,
  SIZE_LIMITS,
  WRANGLER_CONFIG,
} from "../../../edge/scripts/build-worker.ts";

const hasEdge = existsSync(WRANGLER_CONFIG);
if (!hasEdge) console.log(`Worker bundle size check skipped: ${WRANGLER_CONFIG} does not exist yet`);

describe("inlineTextModules", () => {
  it("turns a Text-module import into a string constant defined before any code", () => {
    const { code, inlined } = inlineTextModules(
      'let a = 1;\nimport vocab from "./abc-vocab.txt";\nuse(vocab);\n',
      new Map([["abc-vocab.txt", 'x\n"y"']]),
    );
    expect(inlined).toEqual(["abc-vocab.txt"]);
    expect(code.startsWith('const vocab = "x\\n\\"y\\"";')).toBe(true);
    expect(code).not.toMatch(/import vocab/);
  });

  it("leaves imports of unknown modules alone", () => {
    const src = 'import other from "./other.wasm";\n';
    expect(inlineTextModules(src, new Map()).inlined).toEqual([]);
    expect(inlineTextModules(src, new Map()).code).toContain(src.trim());
  });
});

describe.skipIf(!hasEdge)("Worker bundle (wrangler deploy --dry-run)", () => {
  const out = mkdtempSync(join(tmpdir(), "intentql-worker-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("builds one ES module under Cloudflare's free-plan size limit (3 MB gzip)", {
    timeout: 120_000,
  }, async () => {
    const m = await buildWorker(out);
    console.log(
      `Worker bundle: ${m.main_module} ${(m.bytes / 1024).toFixed(1)} KiB, gzip ${(m.gzip_bytes / 1024).toFixed(1)} KiB (limit ${SIZE_LIMITS.free / 1024 / 1024} MiB free, ${SIZE_LIMITS.paid / 1024 / 1024} MiB paid)`,
    );
    expect(m.gzip_bytes).toBeGreaterThan(0);
    expect(m.gzip_bytes).toBeLessThan(SIZE_LIMITS.free);
    const manifest = JSON.parse(readFileSync(join(out, "worker-manifest.json"), "utf8"));
    expect(manifest).toEqual(m);
    expect(manifest.compatibility_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // Terraform uploads only the entry module: nothing may still import a sibling file.
    const code = readFileSync(join(out, m.main_module), "utf8");
    expect(code).not.toMatch(/^import\s+\w+\s+from\s+"\.\//m);
    expect(manifest.vars.MODEL).toBeTypeOf("string");
  });
});
