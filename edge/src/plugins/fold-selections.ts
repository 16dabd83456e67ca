/**
 * One walk over a GraphQL selection set that follows inline fragments and named fragment spreads,
 * for the validation rules that look through fragments (use-introspection-policy,
 * use-subscription-root-rule). A named fragment is folded once per state and its value memoized, so a
 * fragment bomb (fragments spreading each other many times) costs as much as its text, not as much
 * as its expansion; a fragment cycle (refused by graphql-js's NoFragmentCycles) counts as `empty`.
 */
import { type FieldNode, Kind, type SelectionNode, type SelectionSetNode } from "graphql";

export interface SelectionFold<T, S> {
  /** The value of a set with no selections, and of a fragment met again inside itself. */
  empty: T;
  /** Combines the values of one set's selections. */
  combine(a: T, b: T): T;
  /** The value of a field; `below` folds a selection set under it, in the state the field chooses. */
  field(node: FieldNode, state: S, below: (set: SelectionSetNode, state: S) => T): T;
  /** Called for every selection (field, inline fragment or spread) the walk meets, with its state. */
  visit?(node: SelectionNode, state: S): void;
  /** The memo key of a state: fragments are memoized per fragment name and state. Default "". */
  stateKey?(state: S): string;
}

export function foldSelections<T, S>(
  set: SelectionSetNode,
  state: S,
  fragment: (name: string) => { selectionSet: SelectionSetNode } | null | undefined,
  fold: SelectionFold<T, S>,
): T {
  const memo = new Map<string, T>();
  const walk = (node: SelectionSetNode, current: S): T => {
    let value = fold.empty;
    for (const selection of node.selections) {
      fold.visit?.(selection, current);
      let next: T;
      if (selection.kind === Kind.FIELD) next = fold.field(selection, current, walk);
      else if (selection.kind === Kind.INLINE_FRAGMENT) next = walk(selection.selectionSet, current);
      else {
        const key = `${selection.name.value}\u0000${fold.stateKey?.(current) ?? ""}`;
        let known = memo.get(key);
        if (known === undefined) {
          memo.set(key, fold.empty);
          const definition = fragment(selection.name.value);
          known = definition ? walk(definition.selectionSet, current) : fold.empty;
          memo.set(key, known);
        }
        next = known;
      }
      value = fold.combine(value, next);
    }
    return value;
  };
  return walk(set, state);
}
