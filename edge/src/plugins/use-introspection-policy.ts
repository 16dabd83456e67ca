/**
 * Introspection policy, explicit. Allowed by default, behind the API key like every other field
 * (the schema is public anyway: printed in the repo as edge/schema.graphql, and clients generate
 * types from it); INTROSPECTION=off rejects `__schema`/`__type` at validation (`__typename` stays
 * allowed, as the GraphQL spec requires).
 *
 * Whatever the policy, introspection's list fields may nest at most `maxListNesting` deep.
 * Introspection is cyclic (`types { fields { type { fields { … } } } }`): every level multiplies the
 * answer by the fields of a type, so a 1 KB query asks for millions of objects, and GraphQL Armor's
 * depth and cost limits exempt introspection. The standard introspection query nests 3 lists
 * (`types { fields { args } }`).
 */
import {
  type ASTVisitor,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";
import { foldSelections } from "./fold-selections.ts";

export interface UseIntrospectionPolicyOptions {
  /** Default true. */
  allow?: boolean;
  /** Nesting of introspection list fields (types, fields, args, …). Default 3. */
  maxListNesting?: number;
}

const INTROSPECTION_LISTS = new Set([
  "types",
  "fields",
  "args",
  "inputFields",
  "interfaces",
  "possibleTypes",
  "enumValues",
  "directives",
]);

/** Deepest nesting of introspection list fields under `__schema`/`__type`; linear (fragments memoized). */
export function introspectionListNesting(
  set: SelectionSetNode,
  fragment: (name: string) => { selectionSet: SelectionSetNode } | null | undefined,
): number {
  return foldSelections(set, false, fragment, {
    empty: 0,
    combine: Math.max,
    stateKey: (inside) => String(inside),
    field(node, inside, below) {
      if (!node.selectionSet) return 0;
      const name = node.name.value;
      const entering = inside || name === "__schema" || name === "__type";
      return below(node.selectionSet, entering) + (inside && INTROSPECTION_LISTS.has(name) ? 1 : 0);
    },
  });
}

function listNestingRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node) {
      const nesting = introspectionListNesting(node.selectionSet, (name) => context.getFragment(name));
      if (nesting > max)
        context.reportError(
          new GraphQLError(`introspection lists nested ${nesting} deep; the limit is ${max}`, {
            nodes: [node],
            extensions: { code: ErrorCode.QUERY_TOO_DEEP },
          }),
        );
    },
  });
}

export function useIntrospectionPolicy(options: UseIntrospectionPolicyOptions = {}): Plugin {
  const nesting = listNestingRule(options.maxListNesting ?? 3);
  const allow = options.allow ?? true;
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(nesting);
      if (!allow) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
