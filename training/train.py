"""Trains an IntentQL intent model bundle.

    python training/train.py --recipe scratch --data DIR --out WORKDIR   # the default bundle, no pretrained transformer
    python training/train.py --recipe seed --base distilbert-base-uncased --data DIR --out WORKDIR

The scratch recipe in two steps (each fits one 10-minute GPU-host call):
    python training/train.py --recipe scratch --stage sweep --data DIR --out W --word-vectors WV
        # phase 1 on train → selection on validation within 24,000,000 bundle bytes (estimated, then
        # measured by exporting the chosen mix) → W/selection.json (members, weights, τ, bytes) + W/vocab.txt
    python training/train.py --recipe scratch --stage final --selection selection.json --vocab vocab.txt \
        --data DIR --out W2 --word-vectors WV
        # phase 2 on train+validation + 4 calibration folds → temperature and out-of-scope threshold
        # from out-of-fold predictions → W2/final.json

`--data` holds train/validation/test.jsonl (MASSIVE official layout or {"text","label_text"}).
Both recipes end in WORKDIR/final.pt + WORKDIR/final.json, which export.py turns into a bundle.
Validation picks every choice; test is scored once, on the model that is kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intentql_training.data import label_table, load_splits  # noqa: E402
from intentql_training.ensemble import (  # noqa: E402
    choose_oos_threshold, combine, ensemble_bytes, exhaustive_select, fit_temperature, greedy_select, log_prior_of,
    member_bytes, tune_tau)
from intentql_training.metrics import summary  # noqa: E402
from intentql_training.tokenization import Encoder, train_wordpiece  # noqa: E402
from export import BUNDLE_BUDGET_BYTES, text_files_bytes  # noqa: E402
from intentql_training.augment import has_number_words, noise_texts, typed_canonical, typed_variant  # noqa: E402
from intentql_training.neighbours import read_table as read_neighbours  # noqa: E402
from intentql_training.neighbours import variants as neighbour_variants  # noqa: E402
import random  # noqa: E402

TYPED_VARIANTS = 2  # typed variants per training text (member.COMMON["typed_aug"] picks one at random)

# The phase-1 sweep: every member trains on train and is judged on validation; selection picks a
# mix whose bundle (fp32 + fp16 + int8 files, vocab, labels, JSON) fits 24,000,000 bytes.
# Issue 14: every member (unless the config says otherwise) trains with typed-text augmentation and
# the gibberish → flat-distribution signal (member.COMMON).
#
# 1.2.0 sweep, from 1.1.0's logs (training/logs/massive-scratch-1.1.0/sweep/selection.json):
# - selection was stopped by the size budget, not by validation: t192x3 + n64 + n32 used 3.32 M of the
#   3.35 M parameters and the smallest candidate had 0.59 M, so no 4th member could be tried (and
#   that mix is 24,116,691 bytes, over 24,000,000);
# - n-gram accuracy does not depend on width: n32 86.03 / 86.33 (0.59 M), n64 86.23 / 85.83 / 86.18
#   (1.17 M): the same members at half the bytes, so n48/n32/n24/n16 (0.88/0.59/0.44/0.29 M) let a
#   4th and 5th member in, and seeds of each to pick from;
# - t192x3 was the best transformer in both sweeps (85.98-86.47); t128x4 (85.39-85.74), t256x2
#   (85.29-85.83), 60 epochs (85.54) and dropout 0.15 (85.64) were worse: dropped, which pays for
#   the new n-gram seeds; t128x2 (0.91 M, ~60% of t192x3's bytes) is the one new transformer shape,
#   the only second transformer that leaves room for an n-gram member;
# - the "-plain" ablations (1.0.0 recipe) were measured in 1.1.0 and are not repeated.
T192 = {"dim": 192, "layers": 3, "ffn": 384, "heads": 4}
T128x2 = {"dim": 128, "layers": 2, "ffn": 256, "heads": 4}
N64 = {"hidden": 64, "ngram_buckets": 4096, "char_buckets": 4096}
# every n-gram member has char_buckets 4096: equal char-n-gram tables, which the bundle stores once
NG = {h: {"hidden": h, "ngram_buckets": 4096, "char_buckets": 4096} for h in (48, 32, 24, 16)}
EMA = {"ema": 0.999}
# 1.3.0: distillation. The 1.2.0 candidate (training/logs/massive-scratch-1.2.0-candidate) showed that
# the byte budget leaves room for 3-5 members of these shapes, and that picking among more seeds of
# them on 2,033 validation texts overfits validation (87.75 there, 87.19 on test). So the members
# get better instead of more numerous: round 1 trains the teachers (also candidates themselves), and
# their average is the teacher that round 2's members learn from (soft targets on every training
# text and its typed variants, weight `distill`, member.py). Selection then sees both rounds.
# Measured in the 1.3.0 candidate (docs/MODEL.md): round 2 scored no better on validation than the
# same shapes in round 1, most likely because this teacher labels texts its members were trained
# on. Fold teachers, which label each text with models that never saw it, were tried next
# (fold_teacher.py, docs/MODEL.md "Fold teachers for distillation"): every student lost F1 on validation.
SCRATCH_SWEEP = [
    ("t192x3-s1", "transformer", T192, 1),
    ("t192x3-s2", "transformer", T192, 2),
    ("t192x3-ema-s1", "transformer", {**T192, **EMA}, 1),
    ("t192x3-ema-s2", "transformer", {**T192, **EMA}, 2),
    ("t192x3-ema-s3", "transformer", {**T192, **EMA}, 3),
    ("t128x2-ema-s1", "transformer", {**T128x2, **EMA}, 1),
    ("t128x2-ema-s2", "transformer", {**T128x2, **EMA}, 2),
    ("n64-b4k-ema-s1", "ngram", {**N64, **EMA}, 1),
    ("n64-b4k-ema-s2", "ngram", {**N64, **EMA}, 2),
    ("n48-b4k-s1", "ngram", NG[48], 1),
    ("n48-b4k-s2", "ngram", NG[48], 2),
    ("n32-b4k-s1", "ngram", NG[32], 1),
    ("n32-b4k-s2", "ngram", NG[32], 2),
    ("n24-b4k-s1", "ngram", NG[24], 1),
    ("n16-b4k-s1", "ngram", NG[16], 1),
]
# `--select-on folds`: one seed of each shape, each trained K times (train+validation minus one fold),
# and selection on the out-of-fold predictions over all 13,547 train+validation texts instead of
# the 2,033 validation texts. Three selections on validation (1.1.0 and the two candidates) gave
# validation F1 87.65 / 87.38 / 87.21 and test F1 86.21 / 84.88 / 83.25: at ~34 texts per intent,
# validation F1 did not tell these mixes apart. The fold fits are the calibration folds of the
# final stage too (same folds, same settings), so the final stage only refits the chosen members.
#
# Convolutional members (member kind `conv`, models.ConvClassifier): in a CPU study on run A's folds
# (training/logs/massive-scratch-1.4.0-candidate/conv-fold-study.log) one conv member scored 86.74 /
# 83.70 out of fold, a point of accuracy over the best transformer (85.76), and conv + n64-ema beat
# every mix of run A's candidates. Conv and n-gram members train on a CPU (2 cores: a conv fold fit
# ~200-600 s, an n-gram one ~40-80 s), so this sweep needs no GPU. Its mix (conv256 + conv512 + n48,
# 87.98 / 86.51 out of fold) scored 87.56 / 83.42 on test: not shipped (with the conv padding bug
# that models.ConvClassifier fixed on 2026-11-27). Out of fold, the conv mixes
# scored 0.6-0.7 points of accuracy higher on the train split's rows than on validation's, run A's
# transformer mixes −0.1 to +0.1 (docs/MODEL.md, "A 1.4.0 candidate"). In the study conv256 (87.19 /
# 84.86 alone) beat conv128; hence a second seed of it and a wider one.
#
# Transformers (`--fold-transformers`) and their self-pretraining (`mlm_epochs`, member.py
# mlm_pretrain) need the GPU host. Measured in two H200 runs (training/logs/fold-sweep-2026-11-27,
# fold-sweep-mlm-2026-11-27; docs/MODEL.md): MLM gave +0.15-0.3 points out of fold, within what the
# same shapes moved between the two runs; the chosen mixes scored 87.39 / 85.20 and 87.16 / 84.59 on
# test. With them the sweep takes ~550 s of a 600 s call: MEMBER_TIMEOUT=560.
CONV256, CONV512 = {"filters": 256}, {"filters": 512}
FOLD_SWEEP = [
    ("conv128-s1", "conv", {}, 1),
    ("conv256-s1", "conv", CONV256, 1),
    ("conv256-s2", "conv", CONV256, 2),
    ("conv512-s1", "conv", CONV512, 1),
    ("n64-b4k-ema-s1", "ngram", {**N64, **EMA}, 1),
    ("n48-b4k-s1", "ngram", NG[48], 1),
    ("n32-b4k-s1", "ngram", NG[32], 1),
]
MLM = {"mlm_epochs": 40}
FOLD_TRANSFORMERS = [
    ("t192x3-ema-mlm-s1", "transformer", {**T192, **EMA, **MLM}, 1),
    ("t192x3-mlm-s1", "transformer", {**T192, **MLM}, 1),
    ("t192x3-ema-s1", "transformer", {**T192, **EMA}, 1),
    ("t192x3-s1", "transformer", T192, 1),
]
KD, KD9 = {"distill": 0.6}, {"distill": 0.9}
DISTILLED_SWEEP = [
    ("t192x3-ema-kd-s1", "transformer", {**T192, **EMA, **KD}, 1),
    ("t192x3-ema-kd-s2", "transformer", {**T192, **EMA, **KD}, 2),
    ("t192x3-ema-kd9-s1", "transformer", {**T192, **EMA, **KD9}, 1),
    ("t128x2-ema-kd-s1", "transformer", {**T128x2, **EMA, **KD}, 1),
    ("n64-b4k-ema-kd-s1", "ngram", {**N64, **EMA, **KD}, 1),
    ("n64-b4k-ema-kd9-s1", "ngram", {**N64, **EMA, **KD9}, 1),
    ("n48-b4k-kd-s1", "ngram", {**NG[48], **KD}, 1),
    ("n32-b4k-kd-s1", "ngram", {**NG[32], **KD}, 1),
    ("n24-b4k-kd-s1", "ngram", {**NG[24], **KD}, 1),
    ("n16-b4k-kd-s1", "ngram", {**NG[16], **KD}, 1),
]
# Selection: the bundle, every file, ≤ --max-bytes (export.BUNDLE_BUDGET_BYTES, 24,000,000), from
# an estimate of each member's bytes (ensemble.member_bytes) with BYTES_MARGIN to spare; the chosen
# mix is then exported once for real (fp32, fp16, int8, as export.py does) and measured; if it is
# over, selection runs again under a lower budget. At most MAX_SELECTED members: the final stage
# trains 1 + calibration-folds fits of each (5 × 5 = 25 fits fit one 10-minute call).
BYTES_MARGIN = 50_000
PROBE_MARGIN = 10_000
MAX_SELECTED = 5


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_members(work: Path, specs: list[tuple], fit: str, parallel: int, timeout_s: int) -> None:
    _run(work, [(*spec, fit) for spec in specs], parallel, timeout_s)


def expected_seconds(spec: tuple) -> float:
    """Relative cost of a fit (name, kind, cfg, seed, fit), for longest-first scheduling. From the
    1.1.0 logs at ≤ 16 processes: t192x3 ~5.4 s an epoch on train, t128x4 ~6.5, n-grams ~4.7; a
    train+validation fit has 1.18× the rows, a fold fit 0.88×. An MLM epoch (self-pretraining) took
    ~1.25× a supervised one (fold sweep with MLM, 16 at a time: ~495 s a fit against ~215 s without)."""
    _, kind, cfg, _, fit = spec
    if kind == "transformer":
        per_epoch = 2.1 + 1.1 * cfg.get("layers", 4)
        epochs = cfg.get("epochs", 40) + 1.25 * cfg.get("mlm_epochs", 0)
    elif kind == "linear":  # one convex fit (CPU, 2 cores: ~60 s a fold fit; seconds on a GPU)
        return 20.0
    elif kind == "conv":  # CPU study, 2 at a time: conv128 ~6.7 s an epoch, conv256 ~10
        per_epoch, epochs = 6.7 * (0.5 + cfg.get("filters", 128) / 256), cfg.get("epochs", 30)
    else:
        per_epoch, epochs = 4.7, cfg.get("epochs", 30)
    rows = 1.0 if fit == "train" else 1.18 if fit == "train+validation" else 0.88
    return per_epoch * epochs * rows


def data_fingerprint(work: Path) -> str:
    """sha256 of what every fit in `work` reads: the encoded data, the vocab and the word vectors."""
    h = hashlib.sha256()
    for f in ("encoded.pt", "vocab.txt", "word_vectors.txt"):
        if (work / f).exists():
            h.update(f.encode() + (work / f).read_bytes())
    return h.hexdigest()


def fit_key(data_hash: str, work: Path, spec: tuple) -> str:
    """What a fit's result depends on: the data, the teacher when it distils, and its own settings."""
    name, kind, cfg, seed, fit = spec
    h = hashlib.sha256(data_hash.encode())
    if cfg.get("distill") and (work / "teacher.npz").exists():
        h.update((work / "teacher.npz").read_bytes())
    h.update(json.dumps([kind, cfg, seed, fit], sort_keys=True).encode())
    return h.hexdigest()


def fit_done(work: Path, name: str, key: str) -> bool:
    done = work / "members" / name / "done.json"
    return done.exists() and json.loads(done.read_text()).get("key") == key


def _run(work: Path, specs: list[tuple], parallel: int, timeout_s: int) -> None:
    """One process per member, `parallel` at a time: small models leave a GPU mostly idle, and
    separate processes are the simplest way to fill it. Longest fits start first (the transformers),
    so that when there are more fits than slots the short ones fill in behind them."""
    data_hash = data_fingerprint(work)
    keys = {spec[0]: fit_key(data_hash, work, spec) for spec in specs}
    # a fit already done with the same data and settings (an earlier call on the same host that ran
    # out of time) is not run again
    done = [spec for spec in specs if fit_done(work, spec[0], keys[spec[0]])]
    for spec in done:
        log(f"member {spec[0]}: already done with the same data and settings")
    pending = sorted((s for s in specs if s not in done), key=expected_seconds, reverse=True)
    running: list[tuple[str, subprocess.Popen]] = []
    deadline = time.time() + timeout_s
    here = Path(__file__).resolve().parent
    while pending or running:
        while pending and len(running) < parallel:
            name, kind, cfg, seed, fit = pending.pop(0)
            cmd = [sys.executable, "-m", "intentql_training.member", "--workdir", str(work.resolve()), "--name", name,
                   "--kind", kind, "--config", json.dumps(cfg), "--seed", str(seed), "--fit", fit, "--key", keys[name]]
            logf = open(work / f"member-{name}.stderr", "w")
            running.append((name, subprocess.Popen(cmd, cwd=here, stdout=logf, stderr=subprocess.STDOUT)))
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                status = "ok" if proc.returncode == 0 else f"FAILED rc={proc.returncode}"
                log(f"member {name}: {status}")
                if proc.returncode != 0:
                    print((work / f"member-{name}.stderr").read_text()[-3000:], flush=True)
        if time.time() > deadline:
            for name, proc in running:
                proc.kill()
                log(f"member {name}: killed at the time limit")
            break
        time.sleep(1)


def typed_variants(texts: list[str], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[typed_variant(t, rng) for t in texts] for _ in range(TYPED_VARIANTS)]


def encode_all(work: Path, splits, encoder: Encoder, labels: list[dict], neighbours: dict | None = None) -> None:
    """encoded.pt: every split's ids and labels; train's and validation's typed variants and, with a
    `neighbours` table, their neighbour-word variants (`swaps`, member setting `swap_aug`)."""
    index = {l["name"]: l["id"] for l in labels}
    data = {"labels": labels}
    for split in ("train", "validation", "test"):
        rows = getattr(splits, split)
        missing = sorted({r.intent for r in rows} - index.keys())
        if missing:
            raise SystemExit(f"{split} has intents that train lacks: {missing}")
        data[split] = {"ids": encoder.encode([r.text for r in rows]), "y": [index[r.intent] for r in rows]}
        if split != "test":
            data[split]["variants"] = [encoder.encode(v) for v in
                                       typed_variants([r.text for r in rows], 14 if split == "train" else 15)]
            if neighbours:
                data[split]["swaps"] = [encoder.encode(v) for v in
                                        neighbour_variants([r.text for r in rows], neighbours, 16 if split == "train" else 17)]
    # validation utterances with number words, typed with digits: the typed-digits gap on validation
    typed = [r for r in splits.validation if has_number_words(r.text)]
    data["validation_typed"] = {"ids": encoder.encode([typed_canonical(r.text) for r in typed]),
                                "plain_ids": encoder.encode([r.text for r in typed]),
                                "y": [index[r.intent] for r in typed]}
    # procedural gibberish: a training pool and a separate monitoring set (other seeds); the
    # out-of-scope evaluation set (training/oos_eval.jsonl) is hand-written and never trained on
    data["noise"] = {"train": encoder.encode(noise_texts(20000, seed=1))}
    data["noise_validation"] = {"ids": encoder.encode(noise_texts(1000, seed=2))}
    torch.save(data, work / "encoded.pt")


def softmax_top(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(1, keepdims=True)).max(1)


def prepare(args):
    """Vocab (train text + its typed variants), word vectors, encoded.pt. With --vocab, that vocab
    file is used as is (the final stage reuses the sweep's vocab)."""
    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    splits = load_splits(args.data)
    labels = label_table([r.intent for r in splits.train])
    if args.vocab:
        vocab_path = work / "vocab.txt"
        vocab_path.write_bytes(Path(args.vocab).read_bytes())
    else:
        texts = [r.text for r in splits.train]
        vocab_path = train_wordpiece(texts + [t for v in typed_variants(texts, 14) for t in v], work, args.vocab_size)
    log(f"vocab: {sum(1 for _ in open(vocab_path))} entries")
    if args.word_vectors:
        (work / "word_vectors.txt").write_bytes(Path(args.word_vectors).read_bytes())
    encoder = Encoder(vocab_path)
    neighbours = read_neighbours(args.neighbours) if getattr(args, "neighbours", None) else None
    if neighbours:
        (work / "neighbours.tsv").write_bytes(Path(args.neighbours).read_bytes())
        log(f"neighbour table: {len(neighbours)} words")
    encode_all(work, splits, encoder, labels, neighbours)
    data = torch.load(work / "encoded.pt")
    return work, splits, labels, data, log_prior_of(data["train"]["y"], len(labels))


def smoke(args, sweep):
    if args.epochs_override:
        sweep = [(n, k, {**c, "epochs": args.epochs_override,
                         **({"mlm_epochs": args.epochs_override} if c.get("mlm_epochs") else {})}, s)
                 for n, k, c, s in sweep]
    if args.tiny:
        toy = {"transformer": {"dim": 32, "layers": 1, "ffn": 64, "heads": 2}, "conv": {"filters": 8},
               "ngram": {"hidden": 8, "ngram_buckets": 1024, "char_buckets": 1024},
               "linear": {"ngram_buckets": 1024, "char_buckets": 1024, "max_iter": 20}}
        sweep = [(n, k, {**c, **toy[k]}, s) for n, k, c, s in sweep]
    return sweep


def train_val_labels(data: dict) -> np.ndarray:
    """The labels of train then validation: the row order of every fit over both (member.fit_rows)."""
    return np.asarray(list(data["train"]["y"]) + list(data["validation"]["y"]))


def write_teacher(work: Path, data: dict, names: list[str]) -> Path:
    """The teacher: the mean of round 1's probabilities (`teach` in outputs.npz, every train+validation
    row as written and typed) over `names`, with the rows' labels so that a student can check it was
    made from its own data (member.load_teacher)."""
    total = None
    for name in names:
        p = np.load(work / "members" / name / "outputs.npz")["teach"].astype(np.float32)
        total = p if total is None else total + p
    path = work / "teacher.npz"
    np.savez(path, probs=(total / len(names)).astype(np.float16),
             y=train_val_labels(data))
    return path


def gather(work: Path, sweep: list[tuple], data: dict, num_labels: int, found: dict) -> None:
    """Reads each finished member of `sweep` into `found` (probs, typed, params, sizes, report)."""
    gold_val = np.asarray(data["validation"]["y"])
    gold_typed = np.asarray(data["validation_typed"]["y"])
    for name, kind, cfg, seed in sweep:
        d = work / "members" / name
        if not (d / "done.json").exists():
            continue
        done = json.loads((d / "done.json").read_text())
        out = np.load(d / "outputs.npz")
        found["sizes"][name] = member_bytes(torch.load(d / "member.pt", map_location="cpu")["state"], kind)
        found["report"][name] = {
            **summary(gold_val, out["validation"].argmax(1), num_labels), "params": done["params"],
            "typedAccuracy": float((out["validation_typed"].argmax(1) == gold_typed).mean()),
            "noiseMeanTop": float(out["noise_validation"].max(1).mean()),
            "gloveHits": done["glove_hits"], "seconds": done["seconds"], "kind": kind, "config": cfg,
            "seed": seed, "bytesEstimate": ensemble_bytes([name], found["sizes"])}
        found["probs"][name], found["params"][name] = out["validation"], done["params"]
        found["typed"][name] = out["validation_typed"]
        r = found["report"][name]
        log(f"  {name:22s} val acc {r['accuracy']:.4f} f1 {r['f1Macro']:.4f} typed {r['typedAccuracy']:.4f} "
            f"noise top {r['noiseMeanTop']:.3f} params {done['params']:,} ({done['seconds']}s)")


def sweep_stage(args, work, splits, labels, data, log_prior) -> dict:
    """Phase 1 on train: round 1 (teachers and candidates), the teacher, round 2 (distilled
    candidates), then selection and τ on validation. Returns (and writes) selection.json."""
    num_labels = len(labels)
    sweep = SCRATCH_SWEEP[: args.max_members] if args.max_members else SCRATCH_SWEEP
    distilled = DISTILLED_SWEEP[: args.max_members] if args.max_members else DISTILLED_SWEEP
    sweep, distilled = smoke(args, sweep), smoke(args, distilled)
    gold_val = np.asarray(data["validation"]["y"])
    found = {k: {} for k in ("probs", "typed", "params", "sizes", "report")}
    log(f"phase 1, round 1: {len(sweep)} members on train, {args.parallel} at a time")
    run_members(work, sweep, "train", args.parallel, args.member_timeout)
    gather(work, sweep, data, num_labels, found)
    if not found["probs"]:
        raise SystemExit("no member finished")
    teachers = list(found["probs"])
    teacher_val = summary(gold_val, np.mean([found["probs"][n] for n in teachers], 0).argmax(1), num_labels)
    log(f"teacher: the mean of {len(teachers)} round-1 members, val {teacher_val}")
    teacher = {"members": teachers, "validation": teacher_val}
    if distilled:
        write_teacher(work, data, teachers)
        log(f"phase 1, round 2: {len(distilled)} distilled members on train")
        run_members(work, distilled, "train", args.parallel, args.member_timeout)
        gather(work, distilled, data, num_labels, found)
    sweep = sweep + distilled
    probs, typed, params, sizes, report = (found[k] for k in ("probs", "typed", "params", "sizes", "report"))
    gold_typed = np.asarray(data["validation_typed"]["y"])
    # every candidate's validation probabilities, for looking at the selection afterwards
    np.savez_compressed(work / "validation-probs.npz", gold=gold_val, **{n: p.astype(np.float16) for n, p in probs.items()})
    chosen, bundle_bytes = select_within_bytes(args, work, labels, log_prior, probs, params, sizes, gold_val)
    mix = combine([probs[n] for n in chosen], list(chosen.values()), log_prior, 0.0)
    tau = tune_tau(mix, log_prior, gold_val, num_labels)
    val_logits = mix - tau * log_prior
    val_metrics = summary(gold_val, val_logits.argmax(1), num_labels)
    typed_logits = combine([typed[n] for n in chosen], list(chosen.values()), log_prior, tau)
    val_metrics["typedDigits"] = {"n": int(len(gold_typed)),
                                  "typedAccuracy": float((typed_logits.argmax(1) == gold_typed).mean())}
    log(f"selected {chosen} tau={tau}: val {val_metrics}")
    log(f"  without logit adjustment: {summary(gold_val, mix.argmax(1), num_labels)}")
    return write_selection(work, sweep, chosen, {
        "tau": tau, "validation": val_metrics, "bundleBytes": bundle_bytes, "sweep": report,
        "teacher": teacher, "logPrior": log_prior.tolist()})


def write_selection(work: Path, sweep: list[tuple], chosen: dict, fields: dict) -> dict:
    """selection.json: the chosen members with their kind, settings, seed and weight, then `fields`."""
    specs = {n: (k, c, s) for n, k, c, s in sweep}
    selection = {"members": [{"name": n, "kind": specs[n][0], "config": specs[n][1], "seed": specs[n][2], "weight": w}
                             for n, w in chosen.items()], **fields}
    (work / "selection.json").write_text(json.dumps(selection, indent=1))
    return selection


def fold_fits(specs: list[tuple], K: int, over: str = "fold") -> list[tuple]:
    """The K fold fits of each (name, kind, config, seed): `{name}-{over}{f}`, fit `{over}:f/K`
    (`fold`: folds of train+validation; `trainfold`: folds of train alone, member.fit_rows)."""
    return [(f"{n}-{over}{f}", k, c, s, f"{over}:{f}/{K}") for f in range(K) for n, k, c, s in specs]


def assemble_out_of_fold(fold_outputs: list, rows: int, num_labels: int) -> np.ndarray:
    """Probabilities over train+validation, each row from the fold fit that held it out (fold
    outputs as outputs.npz or FoldOutputs.fold give them); NaN where no fold held a row out."""
    probs = np.full((rows, num_labels), np.nan, dtype=np.float32)
    for out in fold_outputs:
        probs[out["heldout_index"]] = out["heldout"]
    return probs


def out_of_fold(work: Path, name: str, K: int, rows: int, num_labels: int, saved: dict | None = None,
                over: str = "fold"):
    """A candidate's out-of-fold probabilities over train+validation from its K fold fits (fold_fits
    with the same `over`; NaN on the validation rows for `trainfold`), None unless every fold
    finished; each fold's outputs also go into `saved` (folds.npz keys)."""
    dirs = [work / "members" / f"{name}-{over}{f}" for f in range(K)]
    if not all((d / "done.json").exists() for d in dirs):
        return None
    outs = [np.load(d / "outputs.npz") for d in dirs]
    if saved is not None:
        for f, out in enumerate(outs):
            for key in FoldOutputs.KEYS:
                saved[f"{name}-{over}{f}/{key}"] = out[key]
    return assemble_out_of_fold(outs, rows, num_labels)


def fold_sweep_stage(args, work, splits, labels, data, log_prior) -> dict:
    """Phase 1 with `--select-on folds`: every candidate trained K times, selection and τ on its
    out-of-fold predictions over train+validation. Writes selection.json and folds.npz (each
    candidate's fold outputs, which the final stage calibrates on instead of training folds again)."""
    num_labels = len(labels)
    sweep = FOLD_SWEEP + (FOLD_TRANSFORMERS if args.fold_transformers else [])
    sweep = sweep[: args.max_members] if args.max_members else sweep
    sweep = smoke(args, sweep)
    K = args.calibration_folds
    log(f"phase 1 on folds: {len(sweep)} candidates × {K} folds, {args.parallel} at a time")
    run_members_fits(work, fold_fits(sweep, K), args.parallel, args.member_timeout)
    gold_all = train_val_labels(data)
    n_train = len(data["train"]["y"])
    oof, params, sizes, report, saved = {}, {}, {}, {}, {}
    for name, kind, cfg, seed in sweep:
        dirs = [work / "members" / f"{name}-fold{f}" for f in range(K)]
        probs = out_of_fold(work, name, K, len(gold_all), num_labels, saved)
        if probs is None:
            log(f"  {name}: not every fold finished, left out")
            continue
        done = json.loads((dirs[0] / "done.json").read_text())
        oof[name], params[name] = probs, done["params"]
        sizes[name] = member_bytes(torch.load(dirs[0] / "member.pt", map_location="cpu")["state"], kind)
        report[name] = {**summary(gold_all, probs.argmax(1), num_labels), "params": done["params"],
                        "validationPart": summary(gold_all[n_train:], probs[n_train:].argmax(1), num_labels),
                        "kind": kind, "config": cfg, "seed": seed, "bytesEstimate": ensemble_bytes([name], sizes),
                        "seconds": max(json.loads((d / "done.json").read_text())["seconds"] for d in dirs)}
        r = report[name]
        log(f"  {name:22s} out-of-fold acc {r['accuracy']:.4f} f1 {r['f1Macro']:.4f} "
            f"(validation part {r['validationPart']['accuracy']:.4f} / {r['validationPart']['f1Macro']:.4f}) "
            f"params {done['params']:,} ({r['seconds']}s)")
    if not oof:
        raise SystemExit("no candidate finished every fold")
    np.savez_compressed(work / "folds.npz", **saved)
    chosen, bundle_bytes = select_within_bytes(args, work, labels, log_prior, oof, params, sizes, gold_all,
                                               path_of=lambda n: f"members/{n}-fold0/member.pt",
                                               search=exhaustive_select)
    mix = combine([oof[n] for n in chosen], list(chosen.values()), log_prior, 0.0)
    tau = tune_tau(mix, log_prior, gold_all, num_labels)
    metrics = summary(gold_all, (mix - tau * log_prior).argmax(1), num_labels)
    log(f"selected {chosen} tau={tau}: out-of-fold {metrics}")
    return write_selection(work, sweep, chosen, {
        "selectedOn": f"out-of-fold predictions, {K} folds over train+validation",
        "folds": K, "tau": tau, "validation": metrics, "bundleBytes": bundle_bytes, "sweep": report,
        "logPrior": log_prior.tolist()})


def select_within_bytes(args, work, labels, log_prior, probs, params, sizes, gold_val,
                        path_of=lambda n: f"members/{n}/member.pt", search=greedy_select) -> tuple[dict, dict]:
    """Selection (greedy on validation; `search=exhaustive_select` on folds) under the bundle-bytes
    budget. The estimate (ensemble_bytes,
    conservative) gates every step; the chosen mix is then exported once (fp32 + fp16 + int8, exactly
    as export.py writes them; the phase-2 refit has the same shapes) and measured. Over budget (not
    expected: the estimate runs ~25-30 KB high on 1.0.0 and 1.1.0), the budget drops below that mix's
    estimate by the excess and selection runs again. Without onnxruntime (CPU smoke tests) the estimate alone decides."""
    num_labels = len(labels)
    text = text_files_bytes(work / "vocab.txt", labels)
    budget = args.max_bytes - text - args.bytes_margin

    def cost(names: list[str]) -> float:
        if args.param_budget and sum(params[n] for n in names) > args.param_budget:
            return float("inf")
        return ensemble_bytes(names, sizes)

    report = {"maxBytes": args.max_bytes, "textFilesAndJsonReserve": text, "marginBytes": args.bytes_margin}
    for attempt in range(4):
        chosen = search(list(probs), probs, gold_val, num_labels, cost, budget, max_distinct=args.max_selected)
        estimate = ensemble_bytes(list(chosen), sizes)
        report.update({"onnxBudget": budget, "onnxEstimate": estimate, "bundleEstimate": estimate + text})
        log(f"selection {chosen}: estimated {estimate + text:,} bytes with the text files (ONNX budget {budget:,})")
        measured = measure_onnx_bytes(work, chosen, labels, log_prior, path_of)
        if measured is None:
            report["measured"] = None
            break
        total = sum(measured.values()) + text
        report.update({"measured": measured, "bundleMeasured": total})
        log(f"  measured: {measured} → {total:,} bytes with the text files and the JSON reserve")
        if total <= args.max_bytes - PROBE_MARGIN:
            break
        # the estimate ran (measured − estimate) low: take that off the budget, which also rules out this mix
        budget = min(budget, estimate - (total - (args.max_bytes - PROBE_MARGIN)) - args.bytes_margin)
        log(f"  over {args.max_bytes - PROBE_MARGIN:,}: selecting again under an ONNX budget of {budget:,}")
    else:
        log(f"WARNING: no selection measured within {args.max_bytes:,} bytes; export.py will refuse the bundle")
    report["fits"] = report.get("bundleMeasured", report["bundleEstimate"]) <= args.max_bytes
    return chosen, report


def measure_onnx_bytes(work: Path, chosen: dict, labels: list, log_prior: np.ndarray, path_of) -> dict | None:
    """The three ONNX files of the phase-1 members in `chosen`, as export.py writes them (None when
    onnxruntime is missing or the export fails: the estimate then decides)."""
    import shutil
    probe = work / "bytes-probe"
    try:
        import onnxruntime  # noqa: F401
        from export import onnx_bytes

        final = {"recipe": "scratch", "labels": labels, "logPrior": log_prior.tolist(), "tau": 0.0,
                 "members": [{"name": n, "path": path_of(n), "weight": w} for n, w in chosen.items()]}
        return onnx_bytes(work, final, probe)
    except Exception as e:  # noqa: BLE001 — the estimate is the fallback, and it is conservative
        log(f"  bytes probe unavailable ({type(e).__name__}: {str(e)[:200]}); the estimate decides")
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def final_stage(args, work, splits, labels, data, log_prior, selection) -> None:
    """Phase 2: the selected members refit on train+validation (the shipped model) and, for the
    calibration, K fold copies of each (train+validation minus one fold). Temperature and the
    out-of-scope threshold are fit on the fold ensembles' out-of-fold predictions, i.e. on held-out
    data of models trained like the shipped one, after the refit."""
    num_labels = len(labels)
    tau = selection["tau"]
    members = selection["members"]
    K = args.calibration_folds
    base = [(m["name"], m["kind"], m["config"], m["seed"]) for m in members]
    base = smoke(args, base)
    if any(c.get("distill", 0) > 0 for _, _, c, _ in base):
        # the sweep's teacher (round-1 members trained on train): the refit members learn from it too
        if args.teacher:
            (work / "teacher.npz").write_bytes(Path(args.teacher).read_bytes())
        if not (work / "teacher.npz").exists():
            raise SystemExit("the selection has distilled members: pass --teacher (the sweep's teacher.npz)")
        log(f"distilled members learn from {work / 'teacher.npz'} (the sweep's teacher)")
    specs = [(f"{n}-final", k, c, s, "train+validation") for n, k, c, s in base]
    # a selection made on folds brings its fold outputs (folds.npz): they are these calibration folds
    folds = load_fold_outputs(args, work, selection)
    if folds is None:
        specs += fold_fits(base, K)
        log(f"phase 2: {len(base)} members on train+validation, plus {K} calibration folds each: {len(specs)} fits")
    else:
        K = selection["folds"]
        log(f"phase 2: {len(base)} members on train+validation; calibration on the sweep's {K} folds")
    run_members_fits(work, specs, args.parallel, args.member_timeout)
    weights = [m["weight"] for m in members]

    def fold_output(name: str, f: int):
        return folds.fold(name, f) if folds is not None else np.load(work / "members" / f"{name}-fold{f}" / "outputs.npz")

    # out-of-fold ensemble logits over train+validation
    gold_all = train_val_labels(data)
    n_all = len(gold_all)
    oof = np.full((n_all, num_labels), np.nan)
    noise_tops = []
    for f in range(K):
        outs = [fold_output(m["name"], f) for m in members]
        idx = outs[0]["heldout_index"]
        oof[idx] = combine([o["heldout"] for o in outs], weights, log_prior, tau)
        noise_tops.append(combine([o["noise_validation"] for o in outs], weights, log_prior, tau))
    if np.isnan(oof).any():
        raise SystemExit("a calibration fold is missing")
    temperature = fit_temperature(oof, gold_all)
    oos = choose_oos_threshold(oof, gold_all, temperature, flag_rate=args.oos_flag_rate)
    oos["rule"] = (f"{args.oos_flag_rate:.0%} quantile of the calibrated top score on out-of-fold predictions "
                   f"({K}-fold cross-validation over train+validation, fold models trained like the shipped one)")
    oos = {k.replace("validation", "outOfFold", 1) if k.startswith("validation") else k: v for k, v in oos.items()}
    oos["crossValidationFolds"] = K
    noise_flag = float(np.mean([(softmax_top(z, temperature) < oos["threshold"]).mean() for z in noise_tops]))
    oos["syntheticNoiseFlaggedRate"] = noise_flag
    oof_metrics = summary(gold_all, oof.argmax(1), num_labels)
    log(f"calibration on {n_all} out-of-fold texts: T={temperature} {oos}; oof {oof_metrics}")

    gold_test = np.asarray(data["test"]["y"])
    names = [f"{m['name']}-final" for m in members]
    test_probs = [np.load(work / "members" / n / "outputs.npz")["test"] for n in names]
    test_logits = combine(test_probs, weights, log_prior, tau)
    test_metrics = summary(gold_test, test_logits.argmax(1), num_labels)
    log(f"test (scored once, final model): {test_metrics}")
    final = {
        "recipe": "scratch",
        "members": [{"name": n, "path": f"members/{n}/member.pt", "weight": w} for n, w in zip(names, weights)],
        "tau": tau,
        "logPrior": log_prior.tolist(),
        "labels": labels,
        "calibration": {"temperature": temperature, "outOfScope": oos},
        "metrics": {"validation": selection["validation"], "outOfFold": oof_metrics, "test": test_metrics,
                    "validationNote": selection.get("selectedOn", "ensemble of the phase-1 members (trained on train "
                                      "only)") + "; the shipped members were refit on train+validation with the same settings"},
        "sweep": selection["sweep"],
        "selectionBytes": selection.get("bundleBytes"),
        "finalFit": "train+validation",
        "data": splits.files,
        "vocabSize": sum(1 for _ in open(work / "vocab.txt")),
    }
    (work / "final.json").write_text(json.dumps(final, indent=1))
    log("wrote final.json")


class FoldOutputs:
    """The sweep's fold outputs (folds.npz from fold_sweep_stage), read like a fold fit's outputs.npz."""

    KEYS = ("heldout", "heldout_index", "noise_validation")

    def __init__(self, path: Path):
        self.npz = np.load(path)

    def fold(self, name: str, f: int) -> dict:
        return {key: self.npz[f"{name}-fold{f}/{key}"] for key in self.KEYS}


def load_fold_outputs(args, work: Path, selection: dict) -> FoldOutputs | None:
    """folds.npz for a selection made on folds (--folds, or the sweep's own in the work folder)."""
    if "folds" not in selection:
        return None
    if args.folds:
        (work / "folds.npz").write_bytes(Path(args.folds).read_bytes())
    if not (work / "folds.npz").exists():
        raise SystemExit("this selection was made on folds: pass --folds (the sweep's folds.npz)")
    return FoldOutputs(work / "folds.npz")


def run_members_fits(work: Path, specs: list[tuple], parallel: int, timeout_s: int) -> None:
    """run_members for specs that each carry their own fit (name, kind, config, seed, fit)."""
    _run(work, list(specs), parallel, timeout_s)


def scratch(args) -> None:
    work, splits, labels, data, log_prior = prepare(args)
    if args.stage in ("all", "sweep"):
        stage = fold_sweep_stage if args.select_on == "folds" else sweep_stage
        selection = stage(args, work, splits, labels, data, log_prior)
    else:
        selection = json.loads(Path(args.selection).read_text())
    if args.stage in ("all", "final"):
        final_stage(args, work, splits, labels, data, log_prior, selection)


def seed_recipe(args) -> None:
    """The seed model card's recipe: distilbert-base-uncased + LoRA (peft), merged before export."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    work = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    splits = load_splits(args.data)
    labels = label_table([r.intent for r in splits.train])
    index = {l["name"]: l["id"] for l in labels}
    tok = AutoTokenizer.from_pretrained(args.base)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.base, num_labels=len(labels), id2label={l["id"]: l["name"] for l in labels}, label2id=index)
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.05,
                      target_modules=["q_lin", "v_lin"], bias="none")
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)

    def batches(rows, bs, shuffle, gen=None):
        order = torch.randperm(len(rows), generator=gen).tolist() if shuffle else list(range(len(rows)))
        for i in range(0, len(order), bs):
            chunk = [rows[j] for j in order[i : i + bs]]
            enc = tok([r.text for r in chunk], truncation=True, max_length=128, padding=True, return_tensors="pt")
            yield enc.to(device), torch.tensor([index[r.intent] for r in chunk], device=device)

    epochs, bs = args.seed_epochs, 32
    steps = epochs * ((len(splits.train) + bs - 1) // bs)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(0.05 * steps), steps)
    gen = torch.Generator().manual_seed(args.seed)
    best_f1, history = -1.0, []
    for epoch in range(1, epochs + 1):
        model.train()
        for enc, y in batches(splits.train, bs, True, gen):
            # DistilBERT takes no token_type_ids, which BERT-style tokenizers may return
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        preds, gold = [], []
        with torch.no_grad():
            for enc, y in batches(splits.validation, 256, False):
                logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
                preds.append(logits.argmax(-1).cpu())
                gold.append(y.cpu())
        p, g = torch.cat(preds).numpy(), torch.cat(gold).numpy()
        row = {"epoch": epoch, **summary(g, p, len(labels))}
        history.append(row)
        log(f"seed epoch {epoch}: {row}")
        if row["f1Macro"] > best_f1:  # the card keeps the best checkpoint by F1-macro
            best_f1 = row["f1Macro"]
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, work / "best_adapter.pt")
    model.load_state_dict(torch.load(work / "best_adapter.pt"))
    merged = model.merge_and_unload()
    merged.save_pretrained(work / "merged")
    tok.save_pretrained(work / "merged")
    vocab_src = Path(args.base) / "vocab.txt" if Path(args.base).exists() else None
    vocab_file = work / "vocab.txt"
    if vocab_src and vocab_src.exists():
        vocab_file.write_bytes(vocab_src.read_bytes())
    else:
        tok.save_vocabulary(str(work))
    final = {"recipe": "seed", "base": args.base, "hf_dir": "merged", "labels": labels, "history": history,
             "metrics": {"validation": max(history, key=lambda r: r["f1Macro"])}, "data": splits.files}
    (work / "final.json").write_text(json.dumps(final, indent=1))
    log("wrote final.json (seed recipe, merged LoRA)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=["scratch", "seed"], required=True)
    ap.add_argument("--data", required=True, help="folder with train/validation/test.jsonl")
    ap.add_argument("--out", required=True, help="work folder")
    ap.add_argument("--word-vectors", help="word2vec-style text file (word v1 … v100), e.g. from extract-word-vectors")
    ap.add_argument("--neighbours", help="a neighbours.py build table: neighbour-word variants for members with swap_aug")
    ap.add_argument("--vocab-size", type=int, default=6000)
    ap.add_argument("--parallel", type=int, default=int(os.environ.get("INTENTQL_TRAIN_PARALLEL", "12")))
    ap.add_argument("--member-timeout", type=int, default=420)
    ap.add_argument("--max-bytes", type=int, default=BUNDLE_BUDGET_BYTES,
                    help="scratch selection: the whole bundle folder, every file (export.py refuses more)")
    ap.add_argument("--bytes-margin", type=int, default=BYTES_MARGIN,
                    help="scratch selection: bytes kept spare below --max-bytes on the estimate")
    ap.add_argument("--max-selected", type=int, default=MAX_SELECTED,
                    help="scratch selection: most distinct members (the final stage trains 1 + folds fits of each)")
    ap.add_argument("--param-budget", type=int, default=0, help="scratch selection: also cap parameters (0: off)")
    ap.add_argument("--stage", choices=["all", "sweep", "final"], default="all",
                    help="scratch: sweep (phase 1 → selection.json), final (phase 2 + calibration folds, from --selection), or all")
    ap.add_argument("--selection", help="scratch --stage final: a selection.json from the sweep stage")
    ap.add_argument("--select-on", choices=["validation", "folds"], default="validation",
                    help="scratch --stage sweep: validation (phase-1 members on train, judged on validation) or "
                         "folds (FOLD_SWEEP, each candidate on --calibration-folds folds, judged out of fold)")
    ap.add_argument("--folds", help="scratch --stage final: the sweep's folds.npz, for a selection made on folds")
    ap.add_argument("--fold-transformers", action="store_true",
                    help="--select-on folds: transformer candidates too (FOLD_TRANSFORMERS; GPU host)")
    ap.add_argument("--teacher", help="scratch --stage final: the sweep's teacher.npz, for distilled members")
    ap.add_argument("--vocab", help="scratch: use this vocab.txt instead of training one (the sweep's, for --stage final)")
    ap.add_argument("--calibration-folds", type=int, default=4)
    ap.add_argument("--oos-flag-rate", type=float, default=0.05)
    ap.add_argument("--max-members", type=int, default=0, help="smoke tests: only the first N sweep members")
    ap.add_argument("--tiny", action="store_true", help="smoke tests: toy sizes for every member")
    ap.add_argument("--epochs-override", type=int, default=0, help="smoke tests: epochs for every member")
    ap.add_argument("--base", default="distilbert-base-uncased", help="seed recipe: hub name or local folder")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--seed-epochs", type=int, default=10)
    args = ap.parse_args()
    scratch(args) if args.recipe == "scratch" else seed_recipe(args)


if __name__ == "__main__":
    main()
