import { GraphQLError } from "graphql";
import type { GraphQLContext, Scope } from "./builder.ts";
import { ErrorCode } from "./errors.ts";

/** Field-level scope check; authentication itself happened before execution (edge use-api-keys). */
export function requireScope(ctx: GraphQLContext, scope: Scope): void {
  if (!ctx.auth)
    throw new GraphQLError("an API key is required", {
      extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
    });
  if (!ctx.auth.scopes.has(scope))
    throw new GraphQLError(`this API key lacks the "${scope}" scope`, {
      extensions: { code: ErrorCode.FORBIDDEN },
    });
}
