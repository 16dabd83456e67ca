/**
 * `intentql models list|load|unload|default`: the served models, the upstream's model repository and
 * the `default` alias, through the running API (admin key in INTENTQL_API_KEY for changes).
 */
import { apiClient, ENDPOINT_FLAG } from "../api-client.ts";
import { type CommandGroup, defineCommand } from "../command.ts";

interface ServedModel {
  name: string;
  version: string;
  labels: { name: string }[];
  validation: { accuracy: number } | null;
}

interface Alias {
  alias: string;
  model: string;
  version: string;
  updatedAt: string;
}

const JSON_FLAG = { name: "json", description: "print JSON instead of a table" } as const;
const NAME = (description: string) => ({ name: "NAME", description, min: 1, max: 1 }) as const;

export function formatModels(models: readonly ServedModel[], aliases: readonly Alias[]): string {
  const rows = [
    ["MODEL", "VERSION", "LABELS", "VALIDATION", "ALIASES"],
    ...models.map((m) => [
      m.name,
      m.version,
      String(m.labels.length),
      m.validation ? `${(100 * m.validation.accuracy).toFixed(2)}%` : "-",
      aliases
        .filter((a) => a.model === m.name)
        .map((a) => (a.version === m.version ? a.alias : `${a.alias} (pins ${a.version})`))
        .join(",") || "-",
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join("  "))
    .join("\n");
}

const list = defineCommand(
  {
    name: "models list",
    summary: "the models the upstream serves, with their aliases",
    description: ["Columns: model, version, labels, validation accuracy, aliases that point at it."],
    flags: [JSON_FLAG, ENDPOINT_FLAG],
  },
  async (args) => {
    const data = await apiClient(args.required("endpoint")).request<{
      models: ServedModel[];
      modelAliases: Alias[];
    }>(
      "{ models { name version labels { name } validation { accuracy } } modelAliases { alias model version updatedAt } }",
    );
    process.stdout.write(
      args.boolean("json")
        ? `${JSON.stringify(data)}\n`
        : `${formatModels(data.models, data.modelAliases)}\n`,
    );
    return 0;
  },
);

/** `models load` and `models unload`: one admin mutation on the upstream's model repository. */
function repositoryCommand(
  action: "load" | "unload",
  spec: { summary: string; description?: string[]; name: string },
) {
  const mutation = action === "load" ? "loadModel" : "unloadModel";
  return defineCommand(
    {
      name: `models ${action}`,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      positionals: NAME(spec.name),
      flags: [ENDPOINT_FLAG],
    },
    async (args) => {
      const name = args.positionals[0]!;
      await apiClient(args.required("endpoint")).request(`mutation ($n: String!) { ${mutation}(name: $n) }`, {
        n: name,
      });
      process.stderr.write(`${action}ed ${name}\n`);
      return 0;
    },
  );
}

const load = repositoryCommand("load", {
  summary: "load (or reload) a model from the upstream's model repository",
  description: ["gpu-service must run with --model-repository; the folder NAME holds the bundle."],
  name: "the model's folder in the repository",
});

const unload = repositoryCommand("unload", {
  summary: "stop serving a model on the upstream",
  name: "the model",
});

const setDefault = defineCommand(
  {
    name: "models default",
    summary: "answer requests that name no model with NAME (pinned to the version it serves now)",
    description: [
      "Sets the `default` alias; roll back by setting it to the previous model again (it must still be",
      "loaded). Every edge isolate follows within 5 s.",
    ],
    positionals: NAME("a served model"),
    flags: [JSON_FLAG, ENDPOINT_FLAG],
  },
  async (args) => {
    const { setModelAlias } = await apiClient(args.required("endpoint")).request<{ setModelAlias: Alias }>(
      'mutation ($m: String!) { setModelAlias(alias: "default", model: $m) { alias model version updatedAt } }',
      { m: args.positionals[0]! },
    );
    process.stdout.write(
      args.boolean("json")
        ? `${JSON.stringify(setModelAlias)}\n`
        : `default → ${setModelAlias.model}@${setModelAlias.version}\n`,
    );
    return 0;
  },
);

export const command: CommandGroup = {
  name: "models",
  summary: "served models, the model repository and the default model",
  description: ["list needs any key; load, unload and default need an admin key in INTENTQL_API_KEY."],
  subcommands: [list, load, unload, setDefault],
};
