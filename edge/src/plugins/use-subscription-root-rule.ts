/**
 * Refuses `@skip` and `@include` on a subscription's root selections, as the GraphQL working group
 * resolved (graphql-wg#1672; graphql-java and Hot Chocolate enforce it). graphql-js 16 still
 * validates `subscription { evalRunProgress(id: "1") @skip(if: true) { id } }` and then crashes in
 * execution ("undefined is not iterable"): a 500 that the fuzzer found.
 */
import { type ASTVisitor, GraphQLError, type SelectionSetNode, type ValidationContext } from "graphql";
import type { Plugin } from "graphql-yoga";
import { foldSelections } from "./fold-selections.ts";

const CONDITIONAL = new Set(["skip", "include"]);

function subscriptionRootRule(context: ValidationContext): ASTVisitor {
  // The root selections only: fields and the fragments they sit in, not what a field selects below.
  const rootSelections = (set: SelectionSetNode) =>
    foldSelections(set, null, (name) => context.getFragment(name), {
      empty: undefined,
      combine: () => undefined,
      field: () => undefined,
      visit(selection) {
        const directive = selection.directives?.find((d) => CONDITIONAL.has(d.name.value));
        if (directive)
          context.reportError(
            new GraphQLError(`@${directive.name.value} is not allowed on a subscription's root fields`, {
              nodes: [directive],
            }),
          );
      },
    });
  return {
    OperationDefinition(node) {
      if (node.operation === "subscription") rootSelections(node.selectionSet);
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
