/** The IntentQL GraphQL schema: importing each type module registers it on the builder. */
import { type GraphQLSchema, isObjectType } from "graphql";
import { builder } from "./builder.ts";
import "./intent.ts";
import "./classification.ts";
import "./model.ts";
import "./dataset.ts";
import "./dataset-upload.ts";
import "./eval-run.ts";
import "./eval-run-comparison.ts";
import "./api-key.ts";
import "./model-alias.ts";

export type * from "./builder.ts";
export { ErrorCode } from "./errors.ts";

type WithPothosOptions = { extensions?: { pothosOptions?: { authScopes?: unknown } } | null };

const hasScopes = (node: WithPothosOptions): boolean =>
  node.extensions?.pothosOptions?.authScopes !== undefined;

/**
 * Deny by default: every root field declares its scopes (scope-auth `authScopes`), and every other
 * object type declares them on the type (or on each of its fields). A field added without a scope
 * fails here, at build time, instead of shipping open.
 */
export function fieldsWithoutScopes(target: GraphQLSchema): string[] {
  const roots = new Set([target.getQueryType(), target.getMutationType(), target.getSubscriptionType()]);
  const open: string[] = [];
  for (const type of Object.values(target.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__")) continue;
    const typeScoped = !roots.has(type) && hasScopes(type as WithPothosOptions);
    for (const field of Object.values(type.getFields()))
      if (!typeScoped && !hasScopes(field as WithPothosOptions)) open.push(`${type.name}.${field.name}`);
  }
  return open;
}

export const schema = builder.toSchema({ sortSchema: false });

const open = fieldsWithoutScopes(schema);
if (open.length > 0) throw new Error(`fields without authScopes (deny by default): ${open.join(", ")}`);
