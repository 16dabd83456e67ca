/** `npm run schema:print`: writes edge/schema.graphql; test/unit/edge/schema.test.ts fails when it is stale. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { printSchemaFile } from "../src/graphql/print.ts";

const target = fileURLToPath(new URL("../schema.graphql", import.meta.url));
writeFileSync(target, printSchemaFile());
process.stdout.write(`wrote ${target}\n`);
