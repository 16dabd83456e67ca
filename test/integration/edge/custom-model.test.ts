/**
 * Bring your own intents, on the real stack: a bundle trained by `intentql train` into gpu-service's
 * model repository is loaded at runtime next to massive-scratch, and the Worker (workerd, started
 * before the model existed, never rebuilt or restarted) classifies with it by name, with its own
 * labels, and evaluates it, while massive-scratch keeps answering.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateApiKey } from "@intentql/edge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainExampleModel } from "../../support/custom-model.ts";
import { type EdgeWorker, startEdgeWorker } from "../../support/edge-worker.ts";
import { type GpuServiceHandle, startGpuService } from "../../support/gpu-service.ts";

const UPSTREAM_TOKEN = "custom-model-upstream-token-0123456789";
const key = generateApiKey();
const repository = mkdtempSync(join(tmpdir(), "intentql-custom-"));
symlinkSync(resolve("models/massive-scratch"), join(repository, "massive-scratch"));

let gpu: GpuServiceHandle;
let edge: EdgeWorker;

beforeAll(async () => {
  gpu = await startGpuService({ authToken: UPSTREAM_TOKEN, args: ["--model-repository", repository] });
  edge = await startEdgeWorker({
    upstreamUrl: gpu.url,
    upstreamToken: UPSTREAM_TOKEN,
    pepper: "custom-model-pepper",
    keys: [{ key, scopes: ["classify", "eval", "admin"] }],
  });
  // The Worker is up and has answered (and listed the upstream's models) before the model exists.
  const before = await classify(["wake me up at 7am"]);
  if (before.errors) throw new Error(JSON.stringify(before.errors));
  trainExampleModel(join(repository, "my-intents"));
  // Loaded through the API (loadModel → gpu-service's repository extension), as an admin would.
  const load = intentql("models", "load", "my-intents");
  if (load.status !== 0) throw new Error(`models load: ${load.stderr}`);
}, 180_000);

afterAll(async () => {
  await edge?.dispose();
  await gpu?.stop();
});

function intentql(...args: string[]) {
  return spawnSync(process.execPath, ["cli/bin/intentql.js", ...args, "--endpoint", `${edge.url}/graphql`], {
    encoding: "utf8",
    env: { ...process.env, INTENTQL_API_KEY: key },
    timeout: 240_000,
  });
}

async function gql<T>(query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${edge.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as {
    data?: T;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
}

const classify = (texts: string[], model?: string) =>
  gql<{ classify: { intent: { name: string }; outOfScope: boolean; model: string }[] }>(
    "query ($t: [String!]!, $m: String) { classify(texts: $t, model: $m) { intent { name } outOfScope model } }",
    { t: texts, m: model },
  );

describe("a custom model next to massive-scratch, through the Worker", () => {
  it("answers classify(model:) with the custom label names", async () => {
    const body = await classify(
      ["book me a cab to the airport", "turn the lights off in the kitchen", "email john about the meeting"],
      "my-intents",
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.classify.map((r) => r.intent.name)).toEqual(["book_taxi", "lights_off", "send_email"]);
    expect(new Set(body.data!.classify.map((r) => r.model))).toEqual(new Set(["my-intents"]));
  });

  it("keeps answering with massive-scratch, the default, in the same and in later requests", async () => {
    const before = await classify(["wake me up at 7am"]);
    expect(before.data!.classify[0]).toMatchObject({
      intent: { name: "alarm_set" },
      model: "massive-scratch",
    });
    const body = await gql<{ a: { intent: { name: string } }[]; b: { intent: { name: string } }[] }>(
      '{ a: classify(texts: ["wake me up at 7am"]) { intent { name } } b: classify(texts: ["call a taxi"], model: "my-intents") { intent { name } } }',
    );
    expect(body.data!.a[0]!.intent.name).toBe("alarm_set");
    expect(body.data!.b[0]!.intent.name).toBe("book_taxi");
  });

  it("is evaluated on its held-out texts through the Worker's eval runs: 90 percent or more", () => {
    const r = intentql("eval", "--data", "data/custom-example/test.jsonl", "--model", "my-intents");
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(result.n).toBe(784);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.9);
  }, 300_000);

  it("becomes the default and is rolled back with intentql models default, no deploy", async () => {
    const listed = intentql("models", "list");
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^massive-scratch\s/m);
    expect(listed.stdout).toMatch(/^my-intents\s+1\.0\.0\s+8\s/m);
    const set = intentql("models", "default", "my-intents");
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toBe("default → my-intents@1.0.0\n");
    expect((await classify(["book me a cab"])).data!.classify[0]).toMatchObject({
      intent: { name: "book_taxi" },
      model: "my-intents",
    });
    expect(intentql("models", "default", "massive-scratch").status).toBe(0);
    expect((await classify(["book me a cab"])).data!.classify[0]!.model).toBe("massive-scratch");
  });

  it("refuses loading a bundle gpu-service will not load with BAD_USER_INPUT and gpu-service's reason", async () => {
    // a copy of my-intents in a folder that is not its name: gpu-service answers 400 with why
    const folder = join(repository, "misnamed");
    cpSync(join(repository, "my-intents"), folder, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(folder, "bundle.json"), "utf8"));
    writeFileSync(join(folder, "bundle.json"), JSON.stringify({ ...manifest, name: "another-name" }));
    const body = await gql('mutation { loadModel(name: "misnamed") }');
    expect(body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    expect(body.errors?.[0]?.message).toMatch(/^the model server refused \(HTTP 400\): .*another-name/);
    // and a folder that does not exist is an unknown model, as before
    const missing = await gql('mutation { loadModel(name: "no-such-folder") }');
    expect(missing.errors?.[0]?.extensions?.code).toBe("UNKNOWN_MODEL");
  });

  it("refuses a model gpu-service does not serve with UNKNOWN_MODEL", async () => {
    const body = await classify(["hello"], "not-served");
    expect(body.errors?.[0]?.extensions?.code).toBe("UNKNOWN_MODEL");
  });
});
