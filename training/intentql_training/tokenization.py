"""WordPiece vocabulary training and encoding with Hugging Face `tokenizers`/`transformers`.

The edge re-implements exactly this tokenizer (BertTokenizerFast, uncased); the parity fixtures
in test/fixtures/tokenizer prove it. User text never yields special tokens (split_special_tokens).
"""

from __future__ import annotations

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


class Encoder:
    """Texts → lists of ids with [CLS]/[SEP], truncated like the edge (max_length)."""

    def __init__(self, vocab_path: str | Path, max_length: int = 128):
        self.max_length = max_length
        self.vocab = read_vocab(vocab_path)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        try:
            self._tok = bert_pipeline(dict(self.index), max_length)
        except ImportError:  # local smoke tests without `tokenizers`: whitespace lookup is enough there
            self._tok = None

    @property
    def pad_id(self) -> int:
        return self.index["[PAD]"]

    @property
    def unk_id(self) -> int:
        return self.index["[UNK]"]

    def encode(self, texts: list[str]) -> list[list[int]]:
        if self._tok is not None:
            return [e.ids for e in self._tok.encode_batch(texts)]
        cls, sep = self.index["[CLS]"], self.index["[SEP]"]
        return [
            [cls] + [self.index.get(w, self.unk_id) for w in t.lower().split()][: self.max_length - 2] + [sep]
            for t in texts
        ]
