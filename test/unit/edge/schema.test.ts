import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { MASSIVE_INTENT_DOCS } from "../../../edge/src/catalog/massive-intents.ts";
import { printSchemaFile } from "../../../edge/src/graphql/print.ts";

const ROOT = resolve(import.meta.dirname, "../../..");

describe("schema", () => {
  it("edge/schema.graphql is up to date (run `npm run schema:print`)", () => {
    expect(readFileSync(resolve(ROOT, "edge/schema.graphql"), "utf8")).toBe(printSchemaFile());
  });

  it("has the fields the API promises", () => {
    const sdl = printSchemaFile();
    expect(sdl).toContain("classify(");
    expect(sdl).toMatch(/topK: Int = 1/);
    for (const field of [
      "intents(model: String, scenario: String)",
      "intent(name: String!)",
      "scenarios:",
      "models:",
    ])
      expect(sdl).toContain(field);
  });

  it("every label of the default bundle has a hand-written description and examples", () => {
    const labels = JSON.parse(readFileSync(resolve(ROOT, "models/massive-scratch/labels.json"), "utf8")) as {
      name: string;
    }[];
    for (const { name } of labels) {
      const doc = MASSIVE_INTENT_DOCS[name];
      expect(doc, name).toBeDefined();
      expect(doc!.description.length, name).toBeGreaterThan(10);
      expect(doc!.examples.length, name).toBeGreaterThanOrEqual(2);
    }
    expect(Object.keys(MASSIVE_INTENT_DOCS).sort()).toEqual(labels.map((l) => l.name).sort());
  });
});
