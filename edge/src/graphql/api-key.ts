import { nameProblem } from "@intentql/schema";
import { GraphQLError } from "graphql";
import { type ApiKeyInfo, builder, type GraphQLContext, rowsOf, type Scope } from "./builder.ts";
import { ErrorCode } from "./errors.ts";

export const ApiKeyScopeEnum = builder.enumType("ApiKeyScope", {
  description: "What a key may do: classify texts, run evals, manage datasets and keys.",
  values: ["classify", "eval", "admin"] as const satisfies readonly Scope[],
});

export const ApiKeyRef = builder.objectRef<ApiKeyInfo>("ApiKey").implement({
  description: "An API key's public record. The secret is never stored, only its HMAC.",
  authScopes: { admin: true },
  fields: (t) => ({
    id: t.exposeID("id", { description: "The key's public part: iql_<id>_<secret>." }),
    name: t.exposeString("name"),
    scopes: t.field({ type: [ApiKeyScopeEnum], resolve: (k) => [...k.scopes] }),
    createdAt: t.exposeString("createdAt"),
    revokedAt: t.exposeString("revokedAt", { nullable: true }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ key: string; apiKey: ApiKeyInfo }>("CreatedApiKey").implement({
  authScopes: { admin: true },
  fields: (t) => ({
    key: t.exposeString("key", {
      description: "The whole key, shown this once: store it now, it cannot be read again.",
    }),
    apiKey: t.field({ type: ApiKeyRef, resolve: (c) => c.apiKey }),
  }),
});

function keys(ctx: GraphQLContext): NonNullable<GraphQLContext["apiKeys"]> {
  if (!ctx.apiKeys)
    throw new GraphQLError("key management is not configured on this server", {
      extensions: { code: ErrorCode.INTERNAL },
    });
  return ctx.apiKeys;
}

/** apiKeys(first:) returns this many keys when `first` is left out or null, and at most the max. */
export const API_KEYS_PAGE = 100;
export const MAX_API_KEYS_PAGE = 1000;

builder.queryField("apiKeys", (t) =>
  t.field({
    type: [ApiKeyRef],
    description: `The newest \`first\` API keys (at most ${MAX_API_KEYS_PAGE}). Needs the \`admin\` scope.`,
    authScopes: { admin: true },
    args: {
      includeRevoked: t.arg.boolean({ defaultValue: false }),
      first: t.arg.int({ defaultValue: API_KEYS_PAGE }),
    },
    complexity: (args) => rowsOf(args.first, API_KEYS_PAGE, MAX_API_KEYS_PAGE),
    resolve: (_r, args, ctx) =>
      keys(ctx).list(
        args.includeRevoked ?? false,
        Math.max(1, Math.min(args.first ?? API_KEYS_PAGE, MAX_API_KEYS_PAGE)),
      ),
  }),
);

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: "Creates a key; its secret is in the answer and nowhere else. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: {
      name: t.arg.string({ required: true, description: "What the key is for (1-100 characters)." }),
      scopes: t.arg({ type: [ApiKeyScopeEnum], required: true }),
    },
    resolve: (_r, args, ctx) => {
      const name = args.name.trim();
      const problem =
        name.length < 1 || name.length > 100
          ? "name must have 1 to 100 characters"
          : nameProblem("the name", name);
      if (problem) throw new GraphQLError(problem, { extensions: { code: ErrorCode.BAD_USER_INPUT } });
      if (args.scopes.length === 0)
        throw new GraphQLError("a key needs at least one scope", {
          extensions: { code: ErrorCode.BAD_USER_INPUT },
        });
      return keys(ctx).create(name, [...new Set(args.scopes)]);
    },
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description:
      "Revokes a key. Every edge isolate stops accepting it within API_KEY_CACHE_TTL_MS (default 30 s); this one at once. Needs the `admin` scope.",
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const revoked = await keys(ctx).revoke(String(args.id));
      if (!revoked)
        throw new GraphQLError(`no API key ${String(args.id)}`, {
          extensions: { code: ErrorCode.BAD_USER_INPUT },
        });
      return revoked;
    },
  }),
}));
