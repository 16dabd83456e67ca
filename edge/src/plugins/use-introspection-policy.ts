/**
 * Introspection policy, explicit: allowed by default, because the schema is public (it is printed
 * in the repo as schema/schema.graphql) and clients generate types from it; a deployment that
 * wants it off sets INTROSPECTION=off, which rejects `__schema`/`__type` at validation
 * (`__typename` stays allowed, as the GraphQL spec requires).
 */
import { NoSchemaIntrospectionCustomRule } from "graphql";
import type { Plugin } from "graphql-yoga";

export interface UseIntrospectionPolicyOptions {
  /** Default true. */
  allow?: boolean;
}

export function useIntrospectionPolicy(options: UseIntrospectionPolicyOptions = {}): Plugin {
  if (options.allow ?? true) return {};
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
