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


def f1_macro(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> float:
    """Mean F1 over labels that occur in gold or pred (sklearn's default label set)."""
    f1s = f1_per_label(gold, pred, num_labels)
    return float(np.nanmean(f1s)) if not np.isnan(f1s).all() else 0.0


def summary(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> dict:
    return {
        "n": int(len(gold)),
        "accuracy": accuracy(gold, pred),
        "f1Macro": f1_macro(gold, pred, num_labels),
    }
