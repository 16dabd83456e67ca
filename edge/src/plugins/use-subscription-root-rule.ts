/**
 * Refuses `@skip` and `@include` on a subscription's root selections, as the GraphQL working group
 * resolved (graphql-wg#1672; graphql-java and Hot Chocolate enforce it). graphql-js 16 still
 * validates `subscription { evalRunProgress(id: "1") @skip(if: true) { id } }` and then crashes in
 * execution ("undefined is not iterable"): a 500 that the fuzzer found.
 */
import { type ASTVisitor, GraphQLError, Kind, type SelectionSetNode, type ValidationContext } from "graphql";
import type { Plugin } from "graphql-yoga";

const CONDITIONAL = new Set(["skip", "include"]);

function subscriptionRootRule(context: ValidationContext): ASTVisitor {
  const check = (set: SelectionSetNode, seen: Set<string>): void => {
    for (const selection of set.selections) {
      const directive = selection.directives?.find((d) => CONDITIONAL.has(d.name.value));
      if (directive)
        context.reportError(
          new GraphQLError(`@${directive.name.value} is not allowed on a subscription's root fields`, {
            nodes: [directive],
          }),
        );
      if (selection.kind === Kind.INLINE_FRAGMENT) check(selection.selectionSet, seen);
      else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = context.getFragment(selection.name.value);
        if (fragment) check(fragment.selectionSet, seen);
      }
    }
  };
  return {
    OperationDefinition(node) {
      if (node.operation === "subscription") check(node.selectionSet, new Set());
    },
  };
}

export function useSubscriptionRootRule(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(subscriptionRootRule);
    },
  };
}
