/**
 * Request limits, each refused with its own `extensions.code`:
 * - body size (HTTP 413 BODY_TOO_LARGE, before parsing; chunked bodies are counted as they stream),
 * - query depth (QUERY_TOO_DEEP) and cost (QUERY_TOO_COSTLY) as validation rules,
 * - classify texts per request, summed over every field and alias (TOO_MANY_TEXTS), and
 *   characters per text (TEXT_TOO_LONG), checked before execution so nothing reaches the model.
 */
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  getVariableValues,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";
import { getArgumentValues } from "graphql/execution/values.js";
import type { Plugin } from "graphql-yoga";
import { ErrorCode } from "../../../schema/src/graphql/errors.ts";
import { errorResponse } from "./error-response.ts";
export interface UseLimitsOptions {
  /** Request body bytes. Default 1 MiB (256 texts × 2000 ASCII chars fit with room to spare). */
  maxBodyBytes?: number;
  /** Selection depth of ordinary fields. Default 8. */
  maxDepth?: number;
  /** Depth allowed below `__schema`/`__type`: the standard introspection query needs ~13. Default 16. */
  maxIntrospectionDepth?: number;
  /** Fields selected, fragments expanded and aliases counted. Default 500. */
  maxCost?: number;
  /** classify texts per request, all fields and aliases together. Default 256. */
  maxTexts?: number;
  /** UTF-16 code units per text. Default 2000. */
  maxTextChars?: number;
  /** Brace/bracket/parenthesis nesting of the query text, checked before parsing (graphql-js parses
   * recursively: thousands of `{` overflowed the stack, a 500). Default 64. */
  maxNesting?: number;
  /** Lexical tokens per query (graphql-js `maxTokens`): bounds parse and validation work, and
   * fragment-spread chains, which validation walks recursively. Default 20,000. */
  maxTokens?: number;
}

export const LIMIT_DEFAULTS: Required<UseLimitsOptions> = {
  maxBodyBytes: 1024 * 1024,
  maxDepth: 8,
  maxIntrospectionDepth: 16,
  maxCost: 500,
  maxTexts: 256,
  maxTextChars: 2000,
  maxNesting: 64,
  maxTokens: 20_000,
};

/** Deepest nesting of `{`, `[` and `(` outside strings and comments (a linear scan, no recursion). */
export function queryNesting(source: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "#") {
      while (i < source.length && source[i] !== "\n" && source[i] !== "\r") i++;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) {
        i += 3;
        while (i < source.length && !source.startsWith('"""', i)) i += source.startsWith('\\"""', i) ? 4 : 1;
        i += 2;
      } else {
        i++;
        while (i < source.length && source[i] !== '"' && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      }
    } else if (c === "{" || c === "[" || c === "(") {
      depth++;
      if (depth > max) max = depth;
    } else if (c === "}" || c === "]" || c === ")") depth = Math.max(0, depth - 1);
  }
  return max;
}

interface Measure {
  depth: number;
  introspectionDepth: number;
  cost: number;
}

/** Depth and cost of one selection set, fragments expanded (a fragment cycle is counted once). */
export function measureSelection(
  selectionSet: SelectionSetNode,
  fragment: (name: string) => FragmentDefinitionNode | null | undefined,
  inIntrospection = false,
  seen: ReadonlySet<string> = new Set(),
): Measure {
  let depth = 0;
  let introspectionDepth = 0;
  let cost = 0;
  const add = (m: Measure): void => {
    depth = Math.max(depth, m.depth);
    introspectionDepth = Math.max(introspectionDepth, m.introspectionDepth);
    cost += m.cost;
  };
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      cost += 1;
      if (!selection.selectionSet) {
        if (inIntrospection) introspectionDepth = Math.max(introspectionDepth, 1);
        else depth = Math.max(depth, 1);
        continue;
      }
      const introspective = inIntrospection || selection.name.value.startsWith("__");
      const child = measureSelection(selection.selectionSet, fragment, introspective, seen);
      cost += child.cost;
      if (introspective) introspectionDepth = Math.max(introspectionDepth, child.introspectionDepth + 1);
      else depth = Math.max(depth, child.depth + 1);
      introspectionDepth = Math.max(introspectionDepth, child.introspectionDepth);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      add(measureSelection(selection.selectionSet, fragment, inIntrospection, seen));
    } else {
      const name = selection.name.value;
      const definition = fragment(name);
      if (!definition || seen.has(name)) continue;
      add(measureSelection(definition.selectionSet, fragment, inIntrospection, new Set([...seen, name])));
    }
  }
  return { depth, introspectionDepth, cost };
}

function queryShapeRule(limits: Required<UseLimitsOptions>) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const m = measureSelection(node.selectionSet, (name) => context.getFragment(name));
      if (m.depth > limits.maxDepth)
        context.reportError(
          new GraphQLError(`query depth ${m.depth} exceeds the limit of ${limits.maxDepth}`, {
            nodes: [node],
            extensions: { code: ErrorCode.QUERY_TOO_DEEP },
          }),
        );
      if (m.introspectionDepth > limits.maxIntrospectionDepth)
        context.reportError(
          new GraphQLError(
            `introspection depth ${m.introspectionDepth} exceeds the limit of ${limits.maxIntrospectionDepth}`,
            { nodes: [node], extensions: { code: ErrorCode.QUERY_TOO_DEEP } },
          ),
        );
      if (m.cost > limits.maxCost)
        context.reportError(
          new GraphQLError(`query cost ${m.cost} exceeds the limit of ${limits.maxCost} fields`, {
            nodes: [node],
            extensions: { code: ErrorCode.QUERY_TOO_COSTLY },
          }),
        );
    },
  });
}

/** Every root `classify` field of the operation (aliases, fragments and inline fragments included). */
function classifyFields(
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
): FieldNode[] {
  const out: FieldNode[] = [];
  const visit = (set: SelectionSetNode, seen: Set<string>): void => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === "classify") out.push(s);
      } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet, seen);
      else if (!seen.has(s.name.value)) {
        const f = fragments.get(s.name.value);
        if (f) visit(f.selectionSet, new Set([...seen, s.name.value]));
      }
    }
  };
  visit(operation.selectionSet, new Set());
  return out;
}

/** The texts every classify field of this operation will send, or null when variables don't coerce. */
export function classifyTexts(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Map<string, FragmentDefinitionNode>,
  rawVariables: Record<string, unknown> | undefined,
): string[] | null {
  const field = schema.getQueryType()?.getFields().classify;
  if (!field || operation.operation !== "query") return [];
  const variables = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  if (variables.errors) return null;
  const texts: string[] = [];
  for (const node of classifyFields(operation, fragments)) {
    try {
      const args = getArgumentValues(field, node, variables.coerced);
      if (Array.isArray(args.texts)) texts.push(...(args.texts as string[]));
    } catch {
      // Bad arguments: execution reports them with graphql-js's own message.
    }
  }
  return texts;
}

export function useLimits(options: UseLimitsOptions = {}): Plugin {
  const limits = { ...LIMIT_DEFAULTS, ...options };
  const rule = queryShapeRule(limits);
  return {
    async onRequest({ request, endResponse }) {
      const tooLarge = (): Response =>
        errorResponse(
          413,
          ErrorCode.BODY_TOO_LARGE,
          `request body exceeds the limit of ${limits.maxBodyBytes} bytes`,
          { connection: "close" },
        );
      const declared = request.headers.get("content-length");
      if (declared !== null) {
        if (Number(declared) > limits.maxBodyBytes) endResponse(tooLarge());
        return;
      }
      if (!request.body) return;
      // No Content-Length (chunked): count a copy of the stream, stopping at the limit.
      const reader = request.clone().body!.getReader();
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        size += value.byteLength;
        if (size > limits.maxBodyBytes) {
          await reader.cancel();
          endResponse(tooLarge());
          return;
        }
      }
    },
    onParse({ params, setParseFn }) {
      const source = typeof params.source === "string" ? params.source : params.source.body;
      const nesting = queryNesting(source);
      if (nesting > limits.maxNesting)
        throw new GraphQLError(`query nesting ${nesting} exceeds the limit of ${limits.maxNesting}`, {
          extensions: { code: ErrorCode.QUERY_TOO_DEEP },
        });
      setParseFn((src, options) => parse(src, { ...options, maxTokens: limits.maxTokens }));
    },
    onValidate({ addValidationRule }) {
      addValidationRule(rule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      let operation: OperationDefinitionNode | undefined;
      for (const d of args.document.definitions) {
        if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
        else if (
          d.kind === Kind.OPERATION_DEFINITION &&
          (args.operationName == null ? operation === undefined : d.name?.value === args.operationName)
        )
          operation = d;
      }
      if (!operation) return;
      const texts = classifyTexts(
        args.schema,
        operation,
        fragments,
        args.variableValues as Record<string, unknown> | undefined,
      );
      if (!texts) return;
      const stop = (message: string, code: ErrorCode): void =>
        setResultAndStopExecution({ errors: [new GraphQLError(message, { extensions: { code } })] });
      if (texts.length > limits.maxTexts) {
        stop(
          `${texts.length} texts in one request exceed the limit of ${limits.maxTexts} (all classify fields together)`,
          ErrorCode.TOO_MANY_TEXTS,
        );
        return;
      }
      const long = texts.findIndex((t) => t.length > limits.maxTextChars);
      if (long !== -1)
        stop(
          `text ${long} has ${texts[long]!.length} characters; the limit is ${limits.maxTextChars}`,
          ErrorCode.TEXT_TOO_LONG,
        );
    },
  };
}
