"""Accuracy and F1-macro over the label table (the same definitions as the TypeScript metrics module)."""

from __future__ import annotations

import numpy as np


def accuracy(gold: np.ndarray, pred: np.ndarray) -> float:
    return float((gold == pred).mean()) if len(gold) else 0.0


def f1_per_label(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> np.ndarray:
    """Each label's F1; NaN for a label in neither gold nor pred."""
    f1s = np.full(num_labels, np.nan)
    for c in range(num_labels):
        tp = int(((pred == c) & (gold == c)).sum())
        fp = int(((pred == c) & (gold != c)).sum())
        fn = int(((pred != c) & (gold == c)).sum())
        if tp + fp + fn:
            f1s[c] = 2 * tp / (2 * tp + fp + fn)
    return f1s


def f1_macro(gold: np.ndarray, pred: np.ndarray, num_labels: int, left_out: np.ndarray | None = None) -> float:
    """Mean F1 over labels that occur in gold or pred (sklearn's default label set), less the labels
    in `left_out` (a boolean mask over labels; None: none left out)."""
    f1s = f1_per_label(gold, pred, num_labels)
    if left_out is not None:
        f1s[left_out] = np.nan
    return float(np.nanmean(f1s)) if not np.isnan(f1s).all() else 0.0


def summary(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> dict:
    return {
        "n": int(len(gold)),
        "accuracy": accuracy(gold, pred),
        "f1Macro": f1_macro(gold, pred, num_labels),
    }


def paired_gain(gold: np.ndarray, base: np.ndarray, cand: np.ndarray, num_labels: int, resamples: int,
                left_out: np.ndarray | None = None) -> dict:
    """Gain of `cand` over `base` (predicted labels) in points, with the 95 % interval of a paired
    bootstrap (both scored on the same resampled texts, seed 14). With `left_out`, also the gain
    in F1-macro without those labels (`f1MacroLeftOut`)."""
    rng = np.random.default_rng(14)
    figures = {"accuracy": lambda g, p: accuracy(g, p), "f1Macro": lambda g, p: f1_macro(g, p, num_labels)}
    if left_out is not None:
        figures["f1MacroLeftOut"] = lambda g, p: f1_macro(g, p, num_labels, left_out)
    draws: dict[str, list[float]] = {k: [] for k in figures}
    for _ in range(resamples):
        i = rng.integers(0, len(gold), len(gold))
        for k, f in figures.items():
            draws[k].append(100 * (f(gold[i], cand[i]) - f(gold[i], base[i])))
    out = {}
    for k, f in figures.items():
        out[k] = round(100 * (f(gold, cand) - f(gold, base)), 2)
        out[f"{k}95"] = [round(float(x), 2) for x in np.percentile(draws[k], [2.5, 97.5])]
    return out
