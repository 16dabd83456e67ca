"""Model members and the ensemble that becomes one ONNX graph.

Every module takes `input_ids` and `attention_mask` (int64 [B, S]) and returns float [B, labels],
the signature of the seed's DistilBERT export, so any of them (or their ensemble) is a bundle.
"""

from __future__ import annotations

import math
import zlib

import torch
from torch import nn

from .open_vectors import OpenWordVectors


class SelfAttentionBlock(nn.Module):
    """Post-LN encoder block laid out like DistilBERT's (q/k/v/out, additive -1e4 mask), a pattern
    onnxruntime's transformer optimizer recognises and fuses into one Attention op."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.q_lin = nn.Linear(dim, dim)
        self.k_lin = nn.Linear(dim, dim)
        self.v_lin = nn.Linear(dim, dim)
        self.out_lin = nn.Linear(dim, dim)
        self.sa_layer_norm = nn.LayerNorm(dim, eps=1e-12)
        self.lin1 = nn.Linear(dim, ffn)
        self.lin2 = nn.Linear(ffn, dim)
        self.output_layer_norm = nn.LayerNorm(dim, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q = self.q_lin(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_lin(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_lin(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + additive_mask
        attn = self.dropout(torch.softmax(scores, dim=-1))
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(b, s, d)
        x = self.sa_layer_norm(x + self.dropout(self.out_lin(ctx)))
        h = self.lin2(self.dropout(nn.functional.gelu(self.lin1(x))))
        return self.output_layer_norm(x + self.dropout(h))


def open_member_parts(open_vectors: OpenWordVectors | None, width: int) -> tuple[OpenWordVectors | None, nn.Module | None]:
    """A member's open-vocabulary word vectors (frozen) and the trained map from them to its own
    input width; (None, None) without them."""
    if open_vectors is None:
        return None, None
    return open_vectors, nn.Linear(open_vectors.vectors.shape[1], width, bias=False)


def embed_pieces(model: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """The piece embeddings, plus the mapped vector of each piece's word when the member has
    open-vocabulary vectors: a word train never had still carries its meaning."""
    x = model.word_embeddings(input_ids)
    if model.open_vectors is not None:
        x = x + model.open_proj(model.open_vectors(input_ids)[0].to(x.dtype))
    return x


class TransformerClassifier(nn.Module):
    """A small DistilBERT-shaped encoder. Word embeddings live at `emb_dim` (100, the GloVe size)
    and are projected to `dim`: GloVe initialises them and the factorisation keeps the bundle small.
    Pooling concatenates [CLS] and the masked mean of the last layer."""

    def __init__(
        self,
        vocab_size: int,
        num_labels: int,
        dim: int = 256,
        layers: int = 4,
        heads: int = 4,
        ffn: int = 512,
        emb_dim: int = 100,
        max_length: int = 128,
        dropout: float = 0.1,
        open_vectors: OpenWordVectors | None = None,
    ):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, emb_dim)
        self.open_vectors, self.open_proj = open_member_parts(open_vectors, emb_dim)
        self.emb_proj = nn.Linear(emb_dim, dim) if emb_dim != dim else nn.Identity()
        self.position_embeddings = nn.Embedding(max_length, dim)
        self.emb_norm = nn.LayerNorm(dim, eps=1e-12)
        self.blocks = nn.ModuleList(SelfAttentionBlock(dim, heads, ffn, dropout) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * dim, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.encode(input_ids, attention_mask)
        mask = attention_mask.to(x.dtype)
        mean = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        return self.classifier(self.dropout(torch.cat([x[:, 0], mean], dim=-1)))

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The last layer's hidden states [B, S, dim] (the classifier pools them; self-pretraining,
        member.py `mlm_pretrain`, predicts masked tokens from them)."""
        s = input_ids.shape[1]
        pos = torch.arange(s, device=input_ids.device).unsqueeze(0)
        x = self.emb_proj(embed_pieces(self, input_ids)) + self.position_embeddings(pos)
        x = self.dropout(self.emb_norm(x))
        # Unsqueeze → Cast → Sub → Mul: the mask pattern onnxruntime's optimizer fuses into Attention.
        additive = (1.0 - attention_mask.unsqueeze(1).unsqueeze(2).to(x.dtype)) * -10000.0
        for block in self.blocks:
            x = block(x, additive)
        return x


def char_ngram_table(vocab: list[str], buckets: int, n_min: int = 2, n_max: int = 5, max_per_token: int = 16):
    """For each vocab entry, hashed character n-grams of its surface form ([0] = none).

    Word-initial pieces get a leading '<' so that prefixes are distinct from inner pieces, the way
    char_wb n-grams mark word boundaries. Hashing is crc32: stable across processes and versions.
    """
    # int16 when the bucket ids fit (issue 14: the table is a constant in every variant's file)
    table = torch.zeros(len(vocab), max_per_token, dtype=torch.int16 if buckets <= 32767 else torch.int32)
    for i, tok in enumerate(vocab):
        if tok.startswith("[") and tok.endswith("]"):
            continue
        s = tok[2:] if tok.startswith("##") else "<" + tok
        grams = [s[j : j + n] for n in range(n_min, n_max + 1) for j in range(len(s) - n + 1)]
        for k, g in enumerate(grams[:max_per_token]):
            table[i, k] = 1 + zlib.crc32(g.encode("utf-8")) % (buckets - 1)
    return table


BIGRAM_PRIME = 1_000_003
TRIGRAM_PRIME = 998_244_353


def piece_ngrams(ids: torch.Tensor, m: torch.Tensor, buckets: int):
    """Hashed bigrams and trigrams of word pieces [B, S−1], [B, S−2] (bucket < `buckets`) and
    their masks (1.0 where every piece is present): the n-gram and the linear members' features."""
    m2 = m[:, :-1] * m[:, 1:]
    m3 = m2[:, :-1] * m[:, 2:]
    bi = (ids[:, :-1] * BIGRAM_PRIME + ids[:, 1:]) % buckets
    tri = ((ids[:, :-2] * BIGRAM_PRIME + ids[:, 1:-1]) * TRIGRAM_PRIME + ids[:, 2:]) % buckets
    return bi, m2, tri, m3


class NgramClassifier(nn.Module):
    """fastText-style bag of features: word pieces, hashed piece bigrams and trigrams, and the
    character n-grams of every piece, averaged (÷√count) into a small hidden vector → linear."""

    def __init__(
        self,
        vocab: list[str],
        num_labels: int,
        hidden: int = 64,
        ngram_buckets: int = 16384,
        char_buckets: int = 16384,
        dropout: float = 0.2,
        open_vectors: OpenWordVectors | None = None,
    ):
        super().__init__()
        self.open_vectors, self.open_proj = open_member_parts(open_vectors, hidden)
        self.ngram_buckets = ngram_buckets
        self.unigram = nn.Embedding(len(vocab), hidden)
        self.bigram = nn.Embedding(ngram_buckets, hidden)
        self.trigram = nn.Embedding(ngram_buckets, hidden)
        self.chargram = nn.Embedding(char_buckets, hidden, padding_idx=0)
        self.register_buffer("char_table", char_ngram_table(vocab, char_buckets), persistent=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_labels)
        for emb in (self.unigram, self.bigram, self.trigram, self.chargram):
            nn.init.normal_(emb.weight, std=0.02)
        if self.open_proj is not None:  # at the scale of the other features
            nn.init.normal_(self.open_proj.weight, std=0.02)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        m = attention_mask.to(torch.float32)
        ids = input_ids
        feats = (self.unigram(ids) * m.unsqueeze(-1)).sum(1)
        count = m.sum(1)
        bi, m2, tri, m3 = piece_ngrams(ids, m, self.ngram_buckets)
        feats = feats + (self.bigram(bi) * m2.unsqueeze(-1)).sum(1)
        feats = feats + (self.trigram(tri) * m3.unsqueeze(-1)).sum(1)
        char_ids = self.char_table[ids].long()  # [B, S, grams]; stored int16/int32 to save bytes
        chars = self.chargram(char_ids).sum(2)  # [B, S, hidden]
        feats = feats + (chars * m.unsqueeze(-1)).sum(1)
        count = count + m2.sum(1) + m3.sum(1) + ((char_ids > 0).to(torch.float32).sum(2) * m).sum(1)
        if self.open_vectors is not None:  # one more feature per word that the table has
            vectors, starts = self.open_vectors(ids)
            found = (vectors.abs().sum(-1) > 0).to(torch.float32) * starts.to(torch.float32) * m
            feats = feats + self.open_proj((vectors * found.unsqueeze(-1)).sum(1))
            count = count + found.sum(1)
        h = feats / count.clamp(min=1.0).sqrt().unsqueeze(-1)
        return self.out(self.dropout(h))


class LinearClassifier(nn.Module):
    """Multinomial logistic regression over the n-gram member's features, the classic TF-IDF text
    classifier as one more kind of member: every other member is a network fit by stochastic
    gradient descent, and a convex fit errs differently (issue 14: out of fold it lifted the mix of
    1.1.0's shapes, paired, on both figures; its one final stage then scored below 1.1.0 on test, so
    no bundle has one; docs/MODEL.md "A linear member").

    Two blocks, each L2-normalised on its own, the way a union of two TF-IDF vectorisers is: words
    (word pieces, hashed piece bigrams and trigrams) and characters (each piece's character n-grams,
    the n-gram member's `char_table`). A feature's value is its inverse document frequency over the
    fit's texts, summed over its occurrences; the norm is √Σ idf² over the occurrences (the exact
    TF-IDF norm except where a feature repeats in one text: the graph computes it without a
    scatter). The fit (member.fit_linear) is full-batch L-BFGS with an L2 penalty: one optimum for
    the data, whatever the seed. The weights are kept as int8 with one scale per feature row, in
    every variant's file (a quarter of fp32's bytes; the fit's figures are those of the rounded
    weights, which are what the member is).
    """

    def __init__(self, vocab: list[str], num_labels: int, ngram_buckets: int = 4096, char_buckets: int = 4096):
        super().__init__()
        self.vocab_size, self.ngram_buckets, self.char_buckets = len(vocab), ngram_buckets, char_buckets
        self.word_features = len(vocab) + 2 * ngram_buckets
        features = self.word_features + char_buckets
        self.register_buffer("char_table", char_ngram_table(vocab, char_buckets), persistent=True)
        self.register_buffer("idf", torch.ones(features))
        self.register_buffer("weight_q", torch.zeros(features, num_labels, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.zeros(features))
        self.bias = nn.Parameter(torch.zeros(num_labels))

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """(word ids [B, 3S−3], their mask), (char ids [B, S·grams], their mask): indices into the
        feature rows (words first, then characters) and 1.0 where the feature is present."""
        m = attention_mask.to(torch.float32)
        ids = input_ids
        bi, m2, tri, m3 = piece_ngrams(ids, m, self.ngram_buckets)
        words = torch.cat([ids, self.vocab_size + bi, self.vocab_size + self.ngram_buckets + tri], 1)
        word_mask = torch.cat([m, m2, m3], 1)
        char_ids = self.char_table[ids].long()  # [B, S, grams], 0 = none
        char_mask = ((char_ids > 0).to(torch.float32) * m.unsqueeze(-1)).flatten(1)
        chars = (self.word_features - 1 + char_ids.clamp(min=1)).flatten(1)  # bucket b ≥ 1 → row W + b − 1
        return (words, word_mask), (chars, char_mask)

    def feature_values(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Per block: (feature rows, normalised values), what the logits sum over."""
        out = []
        for rows, mask in self.features(input_ids, attention_mask):
            v = self.idf[rows] * mask
            out.append((rows, v / v.square().sum(1, keepdim=True).sqrt().clamp(min=1e-6)))
        return out

    def set_weights(self, weight: torch.Tensor) -> None:
        """int8 rows with one scale each (symmetric, round to nearest)."""
        scale = weight.abs().amax(1) / 127.0
        self.weight_scale.copy_(scale)
        self.weight_q.copy_(torch.round(weight / scale.clamp(min=1e-12).unsqueeze(1)).clamp(-127, 127).to(torch.int8))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.bias.unsqueeze(0)
        for rows, values in self.feature_values(input_ids, attention_mask):
            w = self.weight_q[rows].to(torch.float32) * (self.weight_scale[rows] * values).unsqueeze(-1)
            logits = logits + w.sum(1)
        return logits


class ConvClassifier(nn.Module):
    """Convolutions over word pieces (Kim, 2014): embeddings at `emb_dim` (GloVe-initialised, as the
    transformer's), one Conv1d per odd width (same length out), ReLU, max over the unmasked
    positions → linear. Local order, as neither the bag of n-grams nor attention sees it."""

    def __init__(self, vocab_size: int, num_labels: int, emb_dim: int = 100, filters: int = 128,
                 widths: tuple[int, ...] = (1, 3, 5), dropout: float = 0.3, open_vectors: OpenWordVectors | None = None):
        super().__init__()
        if any(w % 2 == 0 for w in widths):
            raise ValueError("conv widths must be odd (the output keeps the input's length)")
        self.word_embeddings = nn.Embedding(vocab_size, emb_dim)
        self.open_vectors, self.open_proj = open_member_parts(open_vectors, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, filters, w, padding=w // 2) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(filters * len(widths), num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        keep = attention_mask.to(self.word_embeddings.weight.dtype).unsqueeze(1)  # [B, 1, S]
        # padded positions read as zeros, as Conv1d's own padding at the ends does: a text's windows
        # then see the same thing whether the batch pads it or not (until 2026-11-27 they saw the
        # [PAD] embedding, so a conv member's output depended on the longest text in its batch)
        x = self.dropout(embed_pieces(self, input_ids)).transpose(1, 2) * keep  # [B, emb, S]
        masked = (1.0 - keep) * -10000.0
        pooled = [(torch.relu(conv(x)) + masked).max(dim=2).values for conv in self.convs]
        return self.classifier(self.dropout(torch.cat(pooled, dim=-1)))


class FactoredHead(nn.Module):
    """A member's output layer with each intent's weights as the sum of three parts: its own, its
    scenario's and its action's (MASSIVE intents are scenario_action: music_dislikeness shares
    "music" with music_likeness and "dislikeness" with nothing else). A rare intent then starts
    from directions learnt on every text of its scenario and action. For training only: `folded()`
    is the same function as one nn.Linear, which is what member.pt keeps and export sees."""

    HEAD_NAMES = ("classifier", "out")  # the output layer of TransformerClassifier / ConvClassifier, NgramClassifier

    def __init__(self, own: nn.Linear, labels: list[dict]):
        super().__init__()
        scenarios = sorted({label["scenario"] for label in labels})
        actions = sorted({label["action"] for label in labels})
        self.own = own
        self.scenario = nn.Linear(own.in_features, len(scenarios), bias=False)
        self.action = nn.Linear(own.in_features, len(actions), bias=False)
        for layer in (self.scenario, self.action):
            nn.init.normal_(layer.weight, std=0.02)
        self.register_buffer("scenario_of", torch.tensor([scenarios.index(label["scenario"]) for label in labels]))
        self.register_buffer("action_of", torch.tensor([actions.index(label["action"]) for label in labels]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.own(x) + self.scenario(x)[..., self.scenario_of] + self.action(x)[..., self.action_of]

    @torch.no_grad()
    def folded(self) -> nn.Linear:
        layer = nn.Linear(self.own.in_features, self.own.out_features).to(self.own.weight.device)
        layer.weight.copy_(self.own.weight + self.scenario.weight[self.scenario_of] + self.action.weight[self.action_of])
        layer.bias.copy_(self.own.bias)
        return layer

    @classmethod
    def attach(cls, model: nn.Module, labels: list[dict]) -> None:
        name = next(n for n in cls.HEAD_NAMES if isinstance(getattr(model, n, None), nn.Linear))
        setattr(model, name, cls(getattr(model, name), labels))

    @classmethod
    def fold(cls, model: nn.Module) -> None:
        for name in cls.HEAD_NAMES:
            head = getattr(model, name, None)
            if isinstance(head, cls):
                setattr(model, name, head.folded())


class Ensemble(nn.Module):
    """Weighted mean of member probabilities, returned as logits: log(Σ w·p) − τ·log(prior).

    The τ term is logit adjustment (Menon et al., 2021): it trades a little accuracy on frequent
    intents for recall on rare ones, and is tuned on validation for F1-macro. Softmax of the output
    is the ensemble's probability (before temperature scaling, which the bundle stores separately).
    """

    def __init__(self, members: list[nn.Module], weights: list[float], log_prior: torch.Tensor, tau: float):
        super().__init__()
        self.members = nn.ModuleList(members)
        w = torch.tensor(weights, dtype=torch.float32)
        self.register_buffer("weights", w / w.sum())
        self.register_buffer("adjust", (tau * log_prior).to(torch.float32))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # log Σ w·p as a log-sum-exp of log-probabilities: no probability is ever materialised, so
        # the fp16 variant cannot underflow to log(0).
        logps = [
            torch.log_softmax(member(input_ids, attention_mask), dim=-1) + torch.log(self.weights[i])
            for i, member in enumerate(self.members)
        ]
        mixed = logps[0] if len(logps) == 1 else torch.logsumexp(torch.stack(logps), dim=0)
        return mixed - self.adjust


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
