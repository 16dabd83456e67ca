/**
 * Model aliases: `default` answers requests that name no model, any alias may be named in
 * classify(model:), each pins a version, and only the admin scope changes them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKey, readBundleAssets, startTestEdge, type TestEdge } from "../../support/edge-app.ts";
import { type FakeUpstream, startFakeUpstream } from "../../support/edge-fake-upstream.ts";

const { version } = readBundleAssets().manifest;
const CLASSIFY = `query ($m: String) { classify(texts: ["wake me up"], model: $m) { model } }`;
const SET = `mutation ($a: String!, $m: String!) { setModelAlias(alias: $a, model: $m) { alias model version } }`;

let upstream: FakeUpstream;
let edge: TestEdge;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  edge = await startTestEdge(upstream.url);
});
afterAll(async () => {
  await edge.dispose();
  await upstream.close();
});

const codes = (body: { errors?: { extensions?: { code?: string } }[] }) =>
  body.errors?.map((e) => e.extensions?.code);

describe("model aliases", () => {
  it("without aliases, a request naming no model gets the Worker's default", async () => {
    const { body } = await edge.gql(CLASSIFY);
    expect(body.data.classify[0].model).toBe("massive-scratch");
    expect((await edge.gql("{ modelAliases { alias } }")).body.data.modelAliases).toEqual([]);
  });

  it("setModelAlias pins the version served now; the alias is usable by name and as the default", async () => {
    const set = await edge.gql(SET, { a: "stable", m: "massive-scratch" });
    expect(set.body.data.setModelAlias).toEqual({ alias: "stable", model: "massive-scratch", version });
    expect((await edge.gql(CLASSIFY, { m: "stable" })).body.data.classify[0].model).toBe("massive-scratch");
    await edge.gql(SET, { a: "default", m: "massive-scratch" });
    expect((await edge.gql(CLASSIFY)).body.data.classify[0].model).toBe("massive-scratch");
    const listed = (await edge.gql("{ modelAliases { alias model version updatedAt } }")).body.data
      .modelAliases;
    expect(listed.map((a: { alias: string }) => a.alias)).toEqual(["default", "stable"]);
  });

  it("an alias pinned to a version the upstream no longer serves answers MODEL_MISMATCH, and nothing goes upstream", async () => {
    await edge.db.prepare("UPDATE model_aliases SET version = '0.0.1' WHERE alias = 'stable'").run();
    await edge.gql(SET, { a: "other", m: "massive-scratch" }); // clears this isolate's alias cache
    const calls = upstream.calls.length;
    const { body } = await edge.gql(CLASSIFY, { m: "stable" });
    expect(codes(body)).toEqual(["MODEL_MISMATCH"]);
    expect(body.errors![0]!.message).toMatch(
      /alias "stable" pins massive-scratch@0.0.1, the upstream serves massive-scratch@/,
    );
    expect(upstream.calls.length).toBe(calls);
    await edge.gql(SET, { a: "stable", m: "massive-scratch" }); // roll forward: pinned again to what is served
    expect((await edge.gql(CLASSIFY, { m: "stable" })).body.errors).toBeUndefined();
  });

  it("refuses an alias to a model the upstream does not serve, a bad alias name, and callers without admin", async () => {
    expect(codes((await edge.gql(SET, { a: "x", m: "not-served" })).body)).toEqual(["UNKNOWN_MODEL"]);
    expect(codes((await edge.gql(SET, { a: "../x", m: "massive-scratch" })).body)).toEqual([
      "BAD_USER_INPUT",
    ]);
    expect(codes((await edge.gql(SET, { a: "massive-scratch", m: "massive-scratch" })).body)).toEqual([
      "BAD_USER_INPUT",
    ]);
    const classifyOnly = await createKey(edge.db, ["classify"]);
    expect(
      codes((await edge.gql(SET, { a: "y", m: "massive-scratch" }, { key: classifyOnly })).body),
    ).toEqual(["FORBIDDEN"]);
    expect(
      codes((await edge.gql('mutation { loadModel(name: "x") }', {}, { key: classifyOnly })).body),
    ).toEqual(["FORBIDDEN"]);
  });

  it("removeModelAlias: the default falls back to the Worker's", async () => {
    expect(
      (await edge.gql('mutation { removeModelAlias(alias: "default") }')).body.data.removeModelAlias,
    ).toBe(true);
    expect(
      (await edge.gql('mutation { removeModelAlias(alias: "default") }')).body.data.removeModelAlias,
    ).toBe(false);
    expect((await edge.gql(CLASSIFY)).body.data.classify[0].model).toBe("massive-scratch");
  });

  it("holds at most 64 aliases: a new one past that is refused, even when sent at once; repointing one is not", async () => {
    const existing = (await edge.gql("{ modelAliases { alias } }")).body.data.modelAliases.length;
    for (let i = existing; i < 60; i++) await edge.gql(SET, { a: `a${i}`, m: "massive-scratch" });
    // eight at once for the last four places: the count is checked in the insert itself
    const racing = await Promise.all(
      Array.from({ length: 8 }, (_, i) => edge.gql(SET, { a: `race${i}`, m: "massive-scratch" })),
    );
    const refused = racing.filter((r) => r.body.errors);
    expect(refused).toHaveLength(4);
    for (const r of refused) {
      expect(codes(r.body)).toEqual(["BAD_USER_INPUT"]);
      expect(r.body.errors![0]!.message).toMatch(/there are 64 aliases already, the most there may be/);
    }
    const listed = (await edge.gql("{ modelAliases { alias } }")).body.data.modelAliases;
    expect(listed).toHaveLength(64);
    // an alias that exists is repointed at the cap, and its row comes back as written
    const again = await edge.gql(SET, { a: "stable", m: "massive-scratch" });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data.setModelAlias).toEqual({ alias: "stable", model: "massive-scratch", version });
    // removing one makes room for one
    await edge.gql('mutation { removeModelAlias(alias: "a10") }');
    expect((await edge.gql(SET, { a: "late", m: "massive-scratch" })).body.errors).toBeUndefined();
    expect(codes((await edge.gql(SET, { a: "later", m: "massive-scratch" })).body)).toEqual([
      "BAD_USER_INPUT",
    ]);
  });
});
