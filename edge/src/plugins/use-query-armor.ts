/**
 * Query shape limits from GraphQL Armor (@escape.tech/graphql-armor), configured for this schema,
 * each refusal with its own `extensions.code` (Armor's own errors carry none and read "Syntax
 * Error: …"). Every check walks the document once, fragments memoized, so the work grows linearly
 * with the query: a fragment bomb costs as much as its text, not as much as its expansion.
 *
 * - tokens (QUERY_TOO_LARGE): counted by the lexer while parsing, so a huge document stops early;
 * - depth (QUERY_TOO_DEEP), cost (QUERY_TOO_COSTLY), aliases (TOO_MANY_ALIASES) and directives
 *   (TOO_MANY_DIRECTIVES): validation rules;
 * - field suggestions ("Did you mean …?") are removed from errors outside development, so an
 *   attacker without introspection cannot map the schema by typos.
 */
import { EnvelopArmorPlugin } from "@escape.tech/graphql-armor";
import type { GraphQLArmorRejectCallback } from "@escape.tech/graphql-armor-types";
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";

export interface UseQueryArmorOptions {
  /** Lexical tokens per document. Default 3,000 (measured: the dashboard's largest query has 68, the
   * standard introspection query 163, a classify of 256 literal texts 268). */
  maxTokens?: number;
  /** Selection depth, fragments followed; introspection is exempt (use-introspection-policy bounds
   * it). Default 8: the schema has no deeper path. */
  maxDepth?: number;
  /** Armor's static cost: 1 per scalar, 2 per object, ×1.5 per level, × a `first:` argument;
   * introspection exempt. Default 20,000 (measured: the dashboard's run list costs 3,500, the
   * largest page of misclassified texts, `misclassified(first: 500)`, 13,596). */
  maxCost?: number;
  /** Aliases per operation (`__typename` free). Default 20. */
  maxAliases?: number;
  /** Directives per operation. Default 20. */
  maxDirectives?: number;
  /** Keep graphql-js's "Did you mean …?" hints. Default false (development: true). */
  fieldSuggestions?: boolean;
}

export const QUERY_ARMOR_DEFAULTS: Required<UseQueryArmorOptions> = {
  maxTokens: 3_000,
  maxDepth: 8,
  maxCost: 20_000,
  maxAliases: 20,
  maxDirectives: 20,
  fieldSuggestions: false,
};

function coded(error: GraphQLError, code: ErrorCode): GraphQLError {
  return new GraphQLError(error.message.replace(/^Syntax Error: /, ""), { extensions: { code } });
}

/** Reports Armor's refusal through the validation context with our code (validation rules). */
const report =
  (code: ErrorCode): GraphQLArmorRejectCallback =>
  (context, error) =>
    context?.reportError(coded(error, code));

export function useQueryArmor(options: UseQueryArmorOptions = {}): Plugin {
  const o = { ...QUERY_ARMOR_DEFAULTS, ...options };
  const asRule = { propagateOnRejection: false, exposeLimits: true };
  return EnvelopArmorPlugin({
    maxTokens: {
      n: o.maxTokens,
      exposeLimits: true,
      // The parser calls this and stops at the first token over the limit; ours is the error thrown.
      onReject: [
        (_context, error) => {
          throw coded(error, ErrorCode.QUERY_TOO_LARGE);
        },
      ],
    },
    maxDepth: {
      ...asRule,
      n: o.maxDepth,
      ignoreIntrospection: true,
      onReject: [report(ErrorCode.QUERY_TOO_DEEP)],
    },
    costLimit: {
      ...asRule,
      maxCost: o.maxCost,
      ignoreIntrospection: true,
      onReject: [report(ErrorCode.QUERY_TOO_COSTLY)],
    },
    maxAliases: { ...asRule, n: o.maxAliases, onReject: [report(ErrorCode.TOO_MANY_ALIASES)] },
    maxDirectives: { ...asRule, n: o.maxDirectives, onReject: [report(ErrorCode.TOO_MANY_DIRECTIVES)] },
    blockFieldSuggestion: { enabled: !o.fieldSuggestions },
  }) as Plugin;
}
