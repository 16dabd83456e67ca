"""WordPiece vocabulary training and encoding with Hugging Face `tokenizers`/`transformers`.

The edge re-implements exactly this tokenizer (BertTokenizerFast, uncased); the parity fixtures
in test/fixtures/tokenizer prove it. User text never yields special tokens (split_special_tokens).
Without `tokenizers` (a CPU box with Debian's torch only), `Encoder` encodes with `BertWordPiece`,
the same pipeline in plain Python; `python -m intentql_training.tokenization` checks it against
the parity fixtures.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: list[str], out_dir: str | Path, vocab_size: int) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        from tokenizers import BertWordPieceTokenizer
    except ImportError:  # local smoke tests without `tokenizers`: frequent whitespace words
        from collections import Counter

        counts = Counter(w for t in texts for w in t.lower().split())
        words = [w for w, _ in counts.most_common(vocab_size - len(SPECIAL_TOKENS))]
        (out / "vocab.txt").write_text("\n".join(SPECIAL_TOKENS + words) + "\n", encoding="utf-8")
        ensure_tokens(out / "vocab.txt")
        return out / "vocab.txt"

    tok = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        limit_alphabet=1000,
        initial_alphabet=list(REQUIRED_CHARS),
        wordpieces_prefix="##",
    )
    tok.save_model(str(out))
    ensure_tokens(out / "vocab.txt")
    return out / "vocab.txt"


# Typed text (issue 14): every digit and the common symbols must be in the vocab, word-initial
# and as a continuation (digits: "7am" → 7 ##am, "2020" → 2020 or 20 ##20), so that no typed
# number becomes [UNK]. The BERT pre-tokenizer splits punctuation into tokens of their own.
REQUIRED_CHARS = "0123456789%$:/-.,?!'&#@+=*()\"°€£"


def ensure_tokens(vocab_path: Path) -> None:
    vocab = read_vocab(vocab_path)
    have = set(vocab)
    ascii_punct = {chr(c) for r in ((33, 48), (58, 65), (91, 97), (123, 127)) for c in range(*r)}
    forms = [f for c in REQUIRED_CHARS for f in ([c] if c in ascii_punct else [c, "##" + c])]
    extra = [t for t in dict.fromkeys(forms) if t not in have]
    if extra:
        Path(vocab_path).write_text("\n".join(vocab + extra) + "\n", encoding="utf-8")


def read_vocab(path: str | Path) -> list[str]:
    return Path(path).read_text(encoding="utf-8").split("\n")[:-1]


def bert_pipeline(vocab: dict[str, int], max_length: int):
    """BertTokenizerFast's pipeline assembled from `tokenizers` parts, with no added tokens, so a
    literal "[MASK]" in user text stays text (split_special_tokens). Building it directly avoids
    transformers' constructor, whose vocab argument changed between 4.x and 5.x."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tok.enable_truncation(max_length=max_length)
    return tok


# The character classes of the Rust crate behind `tokenizers`, as the edge tokenizer reads them
# (training/make_tokenizer_unicode_tables.py probes them from `tokenizers`): Python's unicodedata
# is of another Unicode version and disagrees on recently assigned characters.
UNICODE_TABLES = Path(__file__).resolve().parents[2] / "tokenizer" / "src" / "unicode-tables.ts"


class CharClass:
    """Membership in `gap+length` hex ranges (the format of tokenizer/src/unicode-tables.ts)."""

    def __init__(self, encoded: str):
        self.starts, self.ends, end = [], [], 0
        for part in encoded.split(","):
            gap, length = (int(x, 16) for x in part.split("+"))
            start = end + gap
            end = start + length
            self.starts.append(start)
            self.ends.append(end)

    def __contains__(self, c: str) -> bool:
        cp = ord(c)
        i = bisect.bisect_right(self.starts, cp) - 1
        return i >= 0 and cp <= self.ends[i]


def load_char_classes(path: Path = UNICODE_TABLES) -> dict[str, CharClass] | None:
    if not path.exists():
        return None
    source = path.read_text(encoding="utf-8")
    found = dict(re.findall(r'export const (\w+)_RANGES =\s*"([^"]*)"', source))
    return {name.lower(): CharClass(found[name]) for name in ("DROPPED", "WHITESPACE", "NONSPACING_MARK", "PUNCTUATION")}


class BertWordPiece:
    """BertTokenizerFast (uncased: clean text, CJK spacing, accents stripped, lowercase; split on
    whitespace and punctuation; greedy longest-match WordPiece with ## continuations, a word of
    more than 100 characters or with no match being [UNK]) in plain Python, for hosts without
    `tokenizers`. Character classes come from the edge tokenizer's tables (UNICODE_TABLES), or
    from Python's unicodedata where the checkout lacks them."""

    MAX_WORD_CHARS = 100

    def __init__(self, index: dict[str, int], max_length: int):
        self.index, self.max_length = index, max_length
        self.unk, self.cls, self.sep = index["[UNK]"], index["[CLS]"], index["[SEP]"]
        self.classes = load_char_classes()

    def _is_whitespace(self, c: str) -> bool:
        if self.classes is not None:
            return c in self.classes["whitespace"]
        return c in " \t\n\r" or unicodedata.category(c) == "Zs"

    def _is_dropped(self, c: str) -> bool:
        if self.classes is not None:
            return c in self.classes["dropped"]
        return c == "\0" or c == "\ufffd" or (c not in "\t\n\r" and unicodedata.category(c).startswith("C"))

    def _is_nonspacing(self, c: str) -> bool:
        if self.classes is not None:
            return c in self.classes["nonspacing_mark"]
        return unicodedata.category(c) == "Mn"

    @staticmethod
    def _is_cjk(c: str) -> bool:
        # the ranges of BERT's _is_chinese_char, 0x2B920 (not 0x2B820) included, as in `tokenizers`
        cp = ord(c)
        return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
                or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B920 <= cp <= 0x2CEAF
                or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)

    def _is_punctuation(self, c: str) -> bool:
        if self.classes is not None:
            return c in self.classes["punctuation"]
        cp = ord(c)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(c).startswith("P")

    def normalize(self, text: str) -> str:
        out = []
        for c in text:
            if self._is_dropped(c):
                continue
            if self._is_whitespace(c):
                out.append(" ")
            elif self._is_cjk(c):
                out.append(f" {c} ")
            else:
                out.append(c)
        text = unicodedata.normalize("NFD", "".join(out))
        return "".join(c for c in text if not self._is_nonspacing(c)).lower()

    def words(self, text: str) -> list[str]:
        words, current = [], []
        for c in text:
            if self._is_whitespace(c) or c.isspace():
                if current:
                    words.append("".join(current))
                    current = []
            elif self._is_punctuation(c):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(c)
            else:
                current.append(c)
        if current:
            words.append("".join(current))
        return words

    def wordpiece(self, word: str) -> list[int]:
        if len(word) > self.MAX_WORD_CHARS:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    ids.append(self.index[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        ids = [i for w in self.words(self.normalize(text)) for i in self.wordpiece(w)]
        return [self.cls] + ids[: self.max_length - 2] + [self.sep]


class Encoder:
    """Texts → lists of ids with [CLS]/[SEP], truncated like the edge (max_length)."""

    def __init__(self, vocab_path: str | Path, max_length: int = 128):
        self.max_length = max_length
        self.vocab = read_vocab(vocab_path)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        try:
            self._tok = bert_pipeline(dict(self.index), max_length)
        except ImportError:  # no `tokenizers` here: the same pipeline in plain Python
            self._tok = BertWordPiece(self.index, max_length)

    @property
    def pad_id(self) -> int:
        return self.index["[PAD]"]

    @property
    def unk_id(self) -> int:
        return self.index["[UNK]"]

    def encode(self, texts: list[str]) -> list[list[int]]:
        if isinstance(self._tok, BertWordPiece):
            return [self._tok.encode(t) for t in texts]
        return [e.ids for e in self._tok.encode_batch(texts)]


def check_parity(root: Path) -> dict:
    """BertWordPiece against the parity fixtures (ids from transformers' BertTokenizer)."""
    import json

    fixtures = root / "test" / "fixtures" / "tokenizer"
    adversarial = json.loads((fixtures / "adversarial.json").read_text(encoding="utf-8"))
    result = {}
    for name in ("massive-wordpiece", "bert-base-uncased"):
        meta = json.loads((fixtures / f"{name}.meta.json").read_text(encoding="utf-8"))
        vocab_path = root / meta["vocabPath"]
        if not vocab_path.exists():
            result[name] = {"skipped": f"{meta['vocabPath']} is not in this checkout"}
            continue
        validation = {}
        path = root / meta["massiveValidation"]["path"]
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            validation[str(row["id"])] = row["utt"] if "utt" in row else row["text"]
        index = {t: i for i, t in enumerate(read_vocab(vocab_path))}
        encoders: dict[int, BertWordPiece] = {}
        same = total = 0
        mismatches = []
        for line in (fixtures / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = validation[str(row["id"])] if row["source"] == "validation" else adversarial[row["index"]]
            enc = encoders.setdefault(row["maxLength"], BertWordPiece(index, row["maxLength"]))
            total += 1
            if enc.encode(text) == row["ids"]:
                same += 1
            elif len(mismatches) < 5:
                mismatches.append({"text": text, "maxLength": row["maxLength"]})
        result[name] = {"cases": total, "identical": same, "mismatches": mismatches}
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(check_parity(Path(__file__).resolve().parents[2]), indent=1, ensure_ascii=False))
