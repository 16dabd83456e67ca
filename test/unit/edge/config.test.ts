/**
 * edge/src/config.ts, the composition root: how the Worker's bindings become the upstream client.
 * Mutual TLS (docs/DEPLOY.md, "Mutual TLS"): with an UPSTREAM_MTLS binding every upstream call goes
 * through its fetch (the one that presents the client certificate), and a deploy that requires it
 * refuses to start without it. The binding here is a fake that counts calls and forwards them to a
 * fake upstream; Cloudflare's certificate handshake itself cannot run locally.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClassifier } from "../../../edge/src/app.ts";
import { ConfigError, classifierOptionsFromEnv } from "../../../edge/src/config.ts";
import type { Env } from "../../../edge/src/env.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

const TOKEN = "t".repeat(40);
let upstream: FakeUpstream;
beforeAll(async () => {
  upstream = await startFakeUpstream({ token: TOKEN });
});
afterAll(() => upstream.close());

const env = (extra: Partial<Env>): Env =>
  ({ UPSTREAM_URL: upstream.url, UPSTREAM_TOKEN: TOKEN, MODEL: "massive-scratch", ...extra }) as Env;

/** A stand-in for the mTLS certificate binding: records each call, then fetches as the binding would. */
function countingBinding() {
  const seen: { url: string; authorization: string | null }[] = [];
  return {
    seen,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get("authorization") });
      return fetch(input, init);
    },
  };
}

describe("the upstream client and mutual TLS", () => {
  it("with an UPSTREAM_MTLS binding, every upstream call goes through it, with the bearer token", async () => {
    const binding = countingBinding();
    const classifier = createClassifier(classifierOptionsFromEnv(env({ UPSTREAM_MTLS: binding })));
    const before = upstream.calls.length;
    const [row] = await classifier.classifyForEval(["wake me up at seven am"], "massive-scratch");
    expect(row).toBeDefined();
    expect(upstream.calls.length).toBe(before + 1);
    const infer = binding.seen.filter((s) => s.url.endsWith("/v2/models/massive-scratch/infer"));
    expect(infer).toHaveLength(1);
    expect(binding.seen.every((s) => s.url.startsWith(upstream.url))).toBe(true);
    expect(binding.seen.every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it("without the binding, the global fetch (local stacks, deploys without mTLS)", async () => {
    const options = classifierOptionsFromEnv(env({}));
    expect(options.upstream.fetch).toBeUndefined();
    const before = upstream.calls.length;
    await createClassifier(options).classifyForEval(["turn the lights off"], "massive-scratch");
    expect(upstream.calls.length).toBe(before + 1);
  });

  it("UPSTREAM_MTLS_REQUIRED=on without the binding refuses to start; with it, or off, it starts", () => {
    expect(() => classifierOptionsFromEnv(env({ UPSTREAM_MTLS_REQUIRED: "on" }))).toThrow(ConfigError);
    expect(() => classifierOptionsFromEnv(env({ UPSTREAM_MTLS_REQUIRED: "on" }))).toThrow(
      /UPSTREAM_MTLS binding is missing/,
    );
    expect(() =>
      classifierOptionsFromEnv(env({ UPSTREAM_MTLS_REQUIRED: "on", UPSTREAM_MTLS: countingBinding() })),
    ).not.toThrow();
    expect(() => classifierOptionsFromEnv(env({ UPSTREAM_MTLS_REQUIRED: "off" }))).not.toThrow();
  });
});
