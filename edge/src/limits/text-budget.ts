/**
 * Text limits of one GraphQL operation, checked on the resolved `classify` arguments: graphql-js has
 * already merged variables and literals into them, so `classify(texts: $t)` and
 * `classify(texts: ["…"])` are counted by the same code. Root query fields resolve in one
 * synchronous pass before the DataLoader dispatches, so a refusal in any field is known before
 * anything goes upstream, and then nothing does: the whole operation is refused, not half of it.
 */
import { bertCharacterClass } from "@intentql/tokenizer";
import { GraphQLError } from "graphql";
import { ErrorCode } from "../graphql/errors.ts";

export interface TextLimits {
  /** classify texts per operation, every field and alias together. Default 256. */
  maxTexts?: number;
  /** UTF-16 code units per text. Default 2,000. */
  maxTextChars?: number;
  /** Distinct `model:` names per operation (each may cost upstream checks). Default 4. */
  maxModels?: number;
}

/**
 * Whether the (uncased) BERT tokenizer reads nothing in `text`: every code point is one it drops,
 * whitespace, or a nonspacing mark (stripped with the accents), by the tokenizer's own character
 * tables, not the JS engine's Unicode version. Stops at the first readable character. (A character
 * whose canonical decomposition is only marks is itself a mark, so no NFD pass is needed.)
 */
function nothingToRead(text: string): boolean {
  for (const ch of text) {
    const c = bertCharacterClass(ch.codePointAt(0)!);
    if (!c.dropped && !c.whitespace && !c.nonspacingMark) return false;
  }
  return true;
}

export const TEXT_LIMIT_DEFAULTS: Required<TextLimits> = { maxTexts: 256, maxTextChars: 2_000, maxModels: 4 };

export class OperationTextBudget {
  readonly #limits: Required<TextLimits>;
  readonly #models = new Set<string>();
  #texts = 0;
  /** The first refusal; once set, the operation sends nothing upstream. */
  refusal: GraphQLError | null = null;

  constructor(limits: TextLimits = {}) {
    this.#limits = { ...TEXT_LIMIT_DEFAULTS, ...limits };
  }

  /** Texts admitted so far in this operation. */
  get texts(): number {
    return this.#texts;
  }

  /** Admits one field's texts or throws the coded refusal (and remembers it for the whole operation). */
  admit(texts: readonly string[], model: string): void {
    const { maxTexts, maxTextChars, maxModels } = this.#limits;
    this.#texts += texts.length;
    this.#models.add(model);
    let refusal: GraphQLError | null = null;
    if (this.#texts > maxTexts)
      refusal = refuse(
        ErrorCode.TOO_MANY_TEXTS,
        `more than ${maxTexts} texts in one request (all classify fields together)`,
      );
    else if (this.#models.size > maxModels)
      refusal = refuse(ErrorCode.TOO_MANY_MODELS, `more than ${maxModels} distinct models in one request`);
    else {
      const long = texts.findIndex((t) => t.length > maxTextChars);
      // An empty transcript is a caller's bug, not an utterance: refused rather than classified. So is
      // one the tokenizer reads as nothing (it drops control and formatting characters, e.g. U+200B,
      // and, lowercasing, combining marks): only [CLS] and [SEP] would go upstream.
      const empty = texts.findIndex(nothingToRead);
      if (long !== -1)
        refusal = refuse(
          ErrorCode.TEXT_TOO_LONG,
          `text ${long} has ${texts[long]!.length} characters; the limit is ${maxTextChars}`,
        );
      else if (empty !== -1)
        refusal = refuse(
          ErrorCode.BAD_USER_INPUT,
          `text ${empty} is empty or only whitespace, control, formatting or combining characters`,
        );
    }
    if (refusal) {
      this.refusal ??= refusal;
      throw refusal;
    }
    if (this.refusal) throw this.refusal;
  }
}

function refuse(code: ErrorCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}
