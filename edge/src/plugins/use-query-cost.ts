/**
 * Query cost with the request's own argument values. GraphQL Armor's cost rule (use-query-armor.ts)
 * reads a page size only where it is a literal, and counts `evalRuns(first: $n)`, or `evalRuns` with
 * `first` left to its default, as one row. This plugin prices the operation that will actually run:
 * the Pothos complexity plugin's rule (fields priced in graphql/builder.ts: `rowsOf`, INTENT_ROWS)
 * with the variables coerced and argument defaults applied (and an explicit null priced as the
 * default the resolver then uses), so a variable, a literal, a default and a null cost the same.
 * It runs before execution and refuses the whole operation with QUERY_TOO_COSTLY.
 *
 * It is a separate pass, not a validation rule: yoga caches validation by document text, and this
 * result depends on the variables. The pass walks each selection set once per type (fragments
 * memoized), and Armor's limits have already bounded the document it walks.
 */
import { createComplexityRule } from "@pothos/plugin-complexity";
import { type ExecutionArgs, GraphQLError, validate } from "graphql";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../graphql/errors.ts";

export interface UseQueryCostOptions {
  /** Cost per operation: 1 per field, a list's selection × its rows, a list of scalars its values
   * (a confusion matrix 60², graphql/eval-metrics.ts), and 10 more per listed eval run (its row is
   * read whole). Default 25,000 (measured by test/unit/edge/query-cost.test.ts: the dashboard's
   * largest query, one run's detail with its confusion matrix, costs 4,135, and its list of 100 runs
   * 2,801; one run's misclassified page of 500 full rows 6,002, so four such pages fit in one request
   * and twenty do not; `evalRuns(first: 500) { misclassified(first: 500) { edges { node { text } } } } }`
   * costs 755,501). */
  maxCost?: number;
}

export const QUERY_COST_DEFAULTS: Required<UseQueryCostOptions> = { maxCost: 25_000 };

/**
 * The cost of `args`' operation, and the errors refusing it when over `maxCost` (or when its
 * variables do not coerce; execution would refuse those too). Costs are summed over the operations
 * measured: the named one, or every one of the document when none is named.
 */
export function measureQueryCost(
  args: Pick<ExecutionArgs, "schema" | "document" | "contextValue" | "variableValues" | "operationName">,
  maxCost: number,
): { cost: number; errors: readonly GraphQLError[] } {
  let cost = 0;
  const rule = createComplexityRule({
    context: (args.contextValue ?? {}) as object,
    variableValues: (args.variableValues ?? {}) as Record<string, unknown>,
    operationName: args.operationName ?? null,
    validate: ({ complexity }, reportError) => {
      cost += complexity;
      if (complexity > maxCost)
        reportError(
          new GraphQLError(`query cost ${complexity} exceeds the limit of ${maxCost}`, {
            extensions: { code: ErrorCode.QUERY_TOO_COSTLY },
          }),
        );
    },
  });
  const errors = validate(args.schema, args.document, [rule]);
  return { cost, errors };
}

export function useQueryCost(options: UseQueryCostOptions = {}): Plugin {
  const { maxCost } = { ...QUERY_COST_DEFAULTS, ...options };
  const check = ({
    args,
    setResultAndStopExecution,
  }: {
    args: ExecutionArgs;
    setResultAndStopExecution: (result: { errors: readonly GraphQLError[] }) => void;
  }): void => {
    const { errors } = measureQueryCost(args, maxCost);
    if (errors.length > 0) setResultAndStopExecution({ errors });
  };
  return { onExecute: check, onSubscribe: check } as Plugin;
}
