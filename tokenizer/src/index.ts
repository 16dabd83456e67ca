export {
  type BertCharacterClass,
  type BertWordPieceOptions,
  BertWordPieceTokenizer,
  bertCharacterClass,
  DEFAULT_MAX_LENGTH,
  type EncodedBatch,
  type EncodedText,
} from "./bert-wordpiece.ts";
export { parseVocabTxt, REQUIRED_SPECIAL_TOKENS, type Vocab } from "./vocab.ts";
