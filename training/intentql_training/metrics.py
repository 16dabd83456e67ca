"""Accuracy and F1-macro over the label table (the same definitions as the TypeScript metrics module)."""

from __future__ import annotations

import numpy as np


def accuracy(gold: np.ndarray, pred: np.ndarray) -> float:
    return float((gold == pred).mean()) if len(gold) else 0.0


def f1_macro(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> float:
    """Mean F1 over labels that occur in gold or pred (sklearn's default label set)."""
    f1s = []
    for c in range(num_labels):
        tp = int(((pred == c) & (gold == c)).sum())
        fp = int(((pred == c) & (gold != c)).sum())
        fn = int(((pred != c) & (gold == c)).sum())
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0


def summary(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> dict:
    return {
        "n": int(len(gold)),
        "accuracy": accuracy(gold, pred),
        "f1Macro": f1_macro(gold, pred, num_labels),
    }
