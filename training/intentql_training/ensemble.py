"""Ensemble selection, logit adjustment and calibration, all decided on validation only."""

from __future__ import annotations

import hashlib
import itertools
from typing import Callable

import numpy as np

from .metrics import accuracy, f1_macro


def log_prior_of(train_labels, num_labels: int) -> np.ndarray:
    """The log prior every mix is corrected by (τ × it): train's label counts, +1 each, normalised."""
    counts = np.bincount(np.asarray(train_labels), minlength=num_labels).astype(np.float64)
    return np.log((counts + 1) / (counts + 1).sum())


def combine(probs: list[np.ndarray], weights: list[float], log_prior: np.ndarray, tau: float) -> np.ndarray:
    """The same arithmetic as models.Ensemble.forward, on saved member probabilities."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mix = sum(wi * p for wi, p in zip(w, probs))
    return np.log(np.clip(mix, 1e-9, None)) - tau * log_prior


def score(gold: np.ndarray, logits: np.ndarray, num_labels: int) -> float:
    """Selection objective: accuracy and F1-macro count equally (the product's two headline numbers)."""
    pred = logits.argmax(1)
    return accuracy(gold, pred) + f1_macro(gold, pred, num_labels)


def greedy_select(
    names: list[str], probs: dict[str, np.ndarray], gold: np.ndarray, num_labels: int,
    cost: Callable[[list[str]], int], budget: int, max_distinct: int = 0,
) -> dict[str, int]:
    """Forward selection without replacement: each step adds the member that raises `score` most,
    every member weighs 1, and it stops when no member raises it. `cost(names)` (the bundle bytes,
    see `ensemble_bytes`) stays within `budget`, and at most `max_distinct` members (0: no limit)
    are picked, which bounds the final stage's fits (1 + calibration folds per member).

    Why no repeats: 1.1.0 and the 1.2.0 candidate picked with replacement, a member's weight being
    how often it was picked. The candidate gave a weak 0.29 M-parameter member weight 3 of 6, for
    0.24 points more validation accuracy than 1.1.0's three members of weight 1, and 0.5 less test
    accuracy and 1.3 less test F1."""
    zero = np.zeros(num_labels)
    chosen: dict[str, int] = {}
    best = -1.0
    while not max_distinct or len(chosen) < max_distinct:
        step_best, step_name = best, None
        for n in names:
            if n in chosen or cost([*chosen, n]) > budget:
                continue
            trial = [*chosen, n]
            s = score(gold, combine([probs[k] for k in trial], [1.0] * len(trial), zero, 0.0), num_labels)
            if s > step_best + 1e-9:
                step_best, step_name = s, n
        if step_name is None:
            break
        chosen[step_name] = 1
        best = step_best
    return chosen


def exhaustive_select(
    names: list[str], probs: dict[str, np.ndarray], gold: np.ndarray, num_labels: int,
    cost: Callable[[list[str]], int], budget: int, max_distinct: int = 0,
) -> dict[str, int]:
    """Every mix of 1..`max_distinct` distinct members (0: all) within `budget` scored, the best kept
    (ties: the cheaper). For selection on folds, whose 13,547 held-out texts judge a few hundred
    mixes more reliably than 2,033 validation texts judge a greedy path. Greedy stops at the first
    step that does not pay: in the CPU fold sweep of 2026-11-27 it took conv512 + n64-ema (87.67 /
    86.13 out of fold) and could add nothing within the budget, while conv512 + conv256 + n48 fit and
    score 87.94 / 86.27 (training/logs/massive-scratch-1.4.0-candidate). Out of fold over the train
    split overrates conv members, though (docs/MODEL.md, "A 1.4.0 candidate"): the search is only as
    good as the held-out rows it scores."""
    zero = np.zeros(num_labels)
    best, best_cost, chosen = -1.0, float("inf"), ()
    for size in range(1, (max_distinct or len(names)) + 1):
        for mix in itertools.combinations(names, size):
            c = cost(list(mix))
            if c > budget:
                continue
            s = score(gold, combine([probs[k] for k in mix], [1.0] * size, zero, 0.0), num_labels)
            if s > best + 1e-9 or (abs(s - best) <= 1e-9 and c < best_cost):
                best, best_cost, chosen = s, c, mix
    return {n: 1 for n in chosen}


# Bundle bytes (issue 14: the whole bundle folder ≤ 24,000,000 bytes). The bundle holds the ensemble
# three times: fp32 (4 bytes an element), fp16 (2) and int8, where dynamic quantisation turns every
# MatMul and Gather weight (all matrices: embeddings, linear layers) into 1 byte, and vectors (biases,
# LayerNorm) stay fp32. So a matrix element costs 7 bytes and a vector element 10. Integer buffers
# (the n-gram members' char-n-gram table, int16) are stored as they are in each file, once per
# distinct table (export shares identical tables). What the graphs add on top was measured on the
# two bundles built so far: 205,547 bytes for transformer + n-gram (1.0.0: fp32 11,368,539 + fp16
# 5,880,272 + int8 3,259,824) and 219,428 for transformer + 2 n-grams (1.1.0: 13,529,968 + 6,867,220
# + 3,662,816), i.e. ~14 KB per n-gram member; the constants below are those figures rounded up
# (the model gave 230,000 and 250,000: 24-31 KB to spare). Those files predate export.compact_onnx,
# which took 124,050 bytes off 1.1.0's three; ONNX_BASE_BYTES is 120,000 lower since. On the two
# compact bundles measured, the estimate is then 35 KB high for 1.1.0's mix (ONNX 23,935,954 bytes)
# and 33 KB high for conv256 + n48 + t192x3-ema (24,607,594 bytes, the 2026-11-27 setting study's).
# Without the change it ran ~155 KB high, and a setting study left 1.1.0's own mix out as too big.
ONNX_BASE_BYTES = 30_000
# Conv members: dynamic quantisation leaves Conv weights fp32 (export.py quantises MatMul and Gather),
# so a conv kernel element costs 4 + 2 + 4 = 10 bytes; their graph overhead is not measured yet and
# takes the n-gram member's.
ONNX_MEMBER_BYTES = {"transformer": 60_000, "ngram": 20_000, "conv": 20_000, "linear": 20_000}


def member_bytes(state: dict, kind: str) -> tuple[int, dict]:
    """Bytes a member adds to the three ONNX files, and its integer tables ({fingerprint: bytes},
    counted once per ensemble), from its state dict (member.pt's "state")."""
    weights, tables = ONNX_MEMBER_BYTES.get(kind, 60_000), {}
    for t in state.values():
        if t.is_floating_point():
            weights += t.numel() * (7 if t.ndim == 2 else 10)  # ndim 3: conv kernels, not quantised
        else:
            a = t.contiguous().cpu().numpy()
            key = (tuple(a.shape), str(a.dtype), hashlib.sha256(a.tobytes()).hexdigest())
            tables[key] = 3 * a.nbytes
    return weights, tables


def ensemble_bytes(names: list[str], sizes: dict[str, tuple[int, dict]]) -> int:
    """Estimated bytes of fp32 + fp16 + int8 ONNX files of an ensemble of `names`."""
    tables: dict = {}
    for n in names:
        tables.update(sizes[n][1])
    return ONNX_BASE_BYTES + sum(sizes[n][0] for n in names) + sum(tables.values())


def tune_tau(logp_mix: np.ndarray, log_prior: np.ndarray, gold: np.ndarray, num_labels: int) -> float:
    grid = np.round(np.arange(0.0, 1.01, 0.05), 2)
    scores = [score(gold, logp_mix - t * log_prior, num_labels) for t in grid]
    return float(grid[int(np.argmax(scores))])


def fit_temperature(logits: np.ndarray, gold: np.ndarray) -> float:
    """Temperature that minimises validation NLL (Guo et al., 2017), by grid search: one scalar."""
    best_t, best_nll = 1.0, float("inf")
    for t in np.arange(0.25, 4.001, 0.01):
        z = logits / t
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        nll = -logp[np.arange(len(gold)), gold].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return round(best_t, 2)


def choose_oos_threshold(logits: np.ndarray, gold: np.ndarray, temperature: float, flag_rate: float = 0.05) -> dict:
    """MASSIVE has no out-of-scope texts, so the threshold is set from in-scope validation texts:
    the calibrated top score below which `flag_rate` of them fall. Those are mostly the model's own
    errors; the report says how many, and what accuracy the texts that pass keep."""
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    top, pred = p.max(1), p.argmax(1)
    threshold = float(np.quantile(top, flag_rate))
    flagged = top < threshold
    correct = pred == gold
    return {
        "threshold": round(threshold, 4),
        "rule": f"{flag_rate:.0%} quantile of the calibrated top score on in-scope validation texts",
        "validationFlaggedRate": float(flagged.mean()),
        "validationErrorsAmongFlagged": float((~correct[flagged]).mean()) if flagged.any() else 0.0,
        "validationAccuracyOfKept": float(correct[~flagged].mean()),
        "validationAccuracyAll": float(correct.mean()),
    }
