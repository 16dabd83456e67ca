"""Ensemble selection, logit adjustment and calibration, all decided on validation only."""

from __future__ import annotations

import numpy as np

from .metrics import accuracy, f1_macro


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
    names: list[str], probs: dict[str, np.ndarray], params: dict[str, int], gold: np.ndarray,
    num_labels: int, budget: int, steps: int = 12,
) -> dict[str, int]:
    """Caruana-style forward selection with replacement: the weight of a member is how often it was
    picked. A member costs its parameters once, whatever its weight; the sum stays within budget."""
    zero = np.zeros(num_labels)
    chosen: dict[str, int] = {}
    best = -1.0
    for _ in range(steps):
        step_best, step_name = best, None
        for n in names:
            if n not in chosen and sum(params[c] for c in chosen) + params[n] > budget:
                continue
            trial = {**chosen, n: chosen.get(n, 0) + 1}
            s = score(gold, combine([probs[k] for k in trial], list(trial.values()), zero, 0.0), num_labels)
            if s > step_best + 1e-9:
                step_best, step_name = s, n
        if step_name is None:
            break
        chosen[step_name] = chosen.get(step_name, 0) + 1
        best = step_best
    return chosen


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
