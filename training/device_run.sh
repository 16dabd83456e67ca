#!/usr/bin/env bash
# What one GPU-host call runs for the model pipeline (see training/README.md). Everything is logged
# to $OUT/log; the bundle and the work folder's reports come back under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
DATA=${DATA:-.device/data}
WORK=/tmp/intentql-work
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python() { if type -P python >/dev/null; then command python "$@"; else python3 "$@"; fi; }
mkdir -p "$OUT"
python -c "import torch, tokenizers, onnxruntime; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'tokenizers', tokenizers.__version__, 'onnxruntime', onnxruntime.__version__)"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

step=${1:-all}
# the neighbour-word table (training/README.md, "Neighbour words"), where the data folder has one
neighbours=()
if [[ -f $DATA/neighbours.tsv ]]; then neighbours=(--neighbours "$DATA/neighbours.tsv"); fi
# Issue 14: the scratch recipe in two calls that fit the 10-minute limit. `sweep`: phase 1 (train
# only: 15 members, their mean as the teacher, 10 distilled members) → selection within 24,000,000
# bundle bytes (estimated, then measured by exporting the chosen mix) → selection.json, vocab.txt,
# teacher.npz and every candidate's validation probabilities in $OUT/results.tgz; `final` (with
# SELECTION, VOCAB and TEACHER, the files the sweep returned; TEACHER may be left out on the host
# that ran the sweep): phase 2 + calibration folds (≤ 5 members × 5 fits, longest first).
# EXTRA_TRAIN_ARGS="--select-on folds" for the sweep: each candidate on 4 folds, selection out of
# fold, folds.npz in $OUT in parts; its final stage (FOLDS=that folds.npz, or nothing on the same host)
# refits only the chosen members and calibrates on the sweep's folds
# → export (refuses a bundle over 24,000,000 bytes) → evaluation of the new bundle and of
# models/massive-scratch (typed-digits gap, out-of-scope set, CPU latency).
if [[ $step == sweep ]]; then
  python training/train.py --recipe scratch --stage sweep --data "$DATA" --out "$WORK/scratch" \
    --word-vectors "$DATA/word_vectors.txt" "${neighbours[@]}" --member-timeout "${MEMBER_TIMEOUT:-480}" ${EXTRA_TRAIN_ARGS:-} || echo "SWEEP FAILED"
  mkdir -p "$WORK/results/sweep"
  cp "$WORK/scratch/selection.json" "$WORK/scratch/vocab.txt" "$WORK/scratch/teacher.npz" \
    "$WORK/scratch/validation-probs.npz" "$WORK/results/sweep/" 2>/dev/null
  # folds.npz (~30 MB) is over what one $OUT file may be: it travels in 15 MB parts
  # (here: cat folds.npz.part.* > folds.npz; folds.npz.sha256 checks it)
  if [[ -f $WORK/scratch/folds.npz ]]; then
    split -b 15000000 "$WORK/scratch/folds.npz" "$OUT/folds.npz.part."
    (cd "$WORK/scratch" && sha256sum folds.npz) > "$OUT/folds.npz.sha256"
  fi
  for d in "$WORK"/scratch/members/*/; do n=$(basename "$d"); cp "$d/log.jsonl" "$WORK/results/sweep/$n.log.jsonl" 2>/dev/null; done
fi
# `study`: training/setting_study.py with the --change arguments given after `study`, on VOCAB (a
# sweep's vocab.txt) → $OUT/study.tgz; when it writes a selection (a fixed mix within the byte budget
# that beat its baseline on validation), the final stage of that mix in the same call (the fits get
# what is left of ~575 s), then export, evaluation, and tokenizer fixtures for VOCAB (all in results.tgz).
# e.g. VOCAB=…/vocab.txt bash training/device_run.sh study --change 'fh={"factored_head": true}' --change …
# STUDY_ONLY=1: no final stage in this call (its fits then get a call of their own: `final` with
# SELECTION=the returned selection.json), for studies whose fits leave it too little time.
if [[ $step == study ]]; then
  start=$(date +%s)
  python training/setting_study.py "${@:2}" --data "$DATA" --vocab "${VOCAB:?}" --word-vectors "$DATA/word_vectors.txt" "${neighbours[@]}" \
    --out "$WORK/study" --parallel "${INTENTQL_TRAIN_PARALLEL:-18}" --member-timeout "${MEMBER_TIMEOUT:-290}" || echo "STUDY FAILED"
  mkdir -p "$WORK/study-results/members"
  cp "$WORK/study/study.json" "$WORK/study/selection.json" "$WORK/study-results/" 2>/dev/null
  for d in "$WORK"/study/members/*/; do cp "$d/log.jsonl" "$WORK/study-results/members/$(basename "$d").log.jsonl"; done
  # every member's validation probabilities (float16), for reading the study again without a GPU
  python -c "import numpy as np, pathlib, sys; np.savez_compressed(sys.argv[2], **{p.parent.name: np.load(p)['validation'].astype(np.float16) for p in pathlib.Path(sys.argv[1]).glob('members/*/outputs.npz')})" \
    "$WORK/study" "$WORK/study-results/validation-probs.npz" || echo "no validation-probs.npz"
  tar czf "$OUT/study.tgz" -C "$WORK/study-results" .
  if [[ -f $WORK/study/selection.json && -z ${STUDY_ONLY:-} ]]; then
    left=$(( 575 - ($(date +%s) - start) - 75 ))
    echo "final stage: $left s for its fits"
    INTENTQL_TRAIN_PARALLEL=16 SELECTION="$WORK/study/selection.json" MEMBER_TIMEOUT=$left VERSION="${VERSION:-1.5.0}" \
      bash "$0" final
  fi
  echo "study call done after $(( $(date +%s) - start )) s"
  exit 0
fi
# `spread`: training/seed_spread.py: SELECTION's mix refit on train+validation with SETS seed sets
# (its own seeds first), each scored on test → $OUT/spread-$TAG.tgz (seed-spread.json, member logs:
# one file, since a call brings back only so many). Two at once (each PARALLEL fits) share one host:
# `TAG=a … spread > $OUT/log-a 2>&1 & TAG=b … spread > $OUT/log-b 2>&1 & wait`
if [[ $step == spread ]]; then
  dir="$WORK/spread-${TAG:?}"
  python training/seed_spread.py --selection "${SELECTION:?}" --vocab "${VOCAB:?}" --sets "${SETS:-4}" --data "$DATA" \
    --word-vectors "$DATA/word_vectors.txt" "${neighbours[@]}" --out "$dir" --parallel "${PARALLEL:-8}" --member-timeout "${MEMBER_TIMEOUT:-480}" \
    || echo "SPREAD $TAG FAILED"
  mkdir -p "$dir/results/members"
  cp "$dir/seed-spread.json" "$dir/results/" 2>/dev/null
  for d in "$dir"/members/*/; do cp "$d/log.jsonl" "$dir/results/members/$(basename "$d").log.jsonl" 2>/dev/null; done
  tar czf "$OUT/spread-$TAG.tgz" -C "$dir/results" .
  exit 0
fi
if [[ $step == final ]]; then
  python training/train.py --recipe scratch --stage final --selection "${SELECTION:?}" --vocab "${VOCAB:?}" \
    --data "$DATA" --out "$WORK/scratch" --word-vectors "$DATA/word_vectors.txt" "${neighbours[@]}" ${TEACHER:+--teacher "$TEACHER"} ${FOLDS:+--folds "$FOLDS"} \
    --member-timeout "${MEMBER_TIMEOUT:-400}" ${EXTRA_TRAIN_ARGS:-} || echo "FINAL FAILED"
  python training/export.py --work "$WORK/scratch" --data "$DATA" --out "$WORK/results/massive-scratch" \
    --name massive-scratch --version "${VERSION:-1.2.0}" || echo "EXPORT FAILED"
  mkdir -p "$WORK/results/sweep" && cp "$WORK/scratch/final.json" "$WORK/results/sweep/" 2>/dev/null
  for d in "$WORK"/scratch/members/*/; do n=$(basename "$d"); cp "$d/log.jsonl" "$WORK/results/sweep/$n.log.jsonl" 2>/dev/null; done
  python training/evaluate_bundle.py --bundle "$WORK/results/massive-scratch" --bundle models/massive-scratch \
    --data "$DATA" --oos training/oos_eval.jsonl --out "$WORK/results/evaluation.json" || echo "EVALUATION FAILED"
  # the edge tokenizer's parity fixtures for this vocab (test/fixtures/tokenizer/massive-wordpiece.*,
  # needed when the bundle ships with a vocab other than the shipped one's)
  python training/make_tokenizer_fixtures.py --vocab massive-wordpiece="$VOCAB" --massive-validation "$DATA/validation.jsonl" \
    --adversarial test/fixtures/tokenizer/adversarial.json --out "$WORK/results/fixtures" || echo "FIXTURES FAILED"
fi
# `export`: a final stage that ran elsewhere (the CPU recipe: `train.py --stage final` on a dev box)
# → export, evaluation and tokenizer fixtures here, where onnxruntime and tokenizers are. FINAL_WORK
# is a folder with that stage's final.json, vocab.txt and members/*-final/member.pt.
if [[ $step == export ]]; then
  python training/export.py --work "${FINAL_WORK:?}" --data "$DATA" --out "$WORK/results/massive-scratch" \
    --name massive-scratch --version "${VERSION:?}" || echo "EXPORT FAILED"
  python training/evaluate_bundle.py --bundle "$WORK/results/massive-scratch" --bundle models/massive-scratch \
    --data "$DATA" --oos training/oos_eval.jsonl --out "$WORK/results/evaluation.json" || echo "EVALUATION FAILED"
  python training/make_tokenizer_fixtures.py --vocab massive-wordpiece="$WORK/results/massive-scratch/vocab.txt" \
    --massive-validation "$DATA/validation.jsonl" --adversarial test/fixtures/tokenizer/adversarial.json \
    --out "$WORK/results/fixtures" || echo "FIXTURES FAILED"
fi
if [[ $step == all || $step == scratch ]]; then
  python training/train.py --recipe scratch --data "$DATA" --out "$WORK/scratch" \
    --word-vectors "$DATA/word_vectors.txt" "${neighbours[@]}" --member-timeout "${MEMBER_TIMEOUT:-490}" ${EXTRA_TRAIN_ARGS:-} || echo "SCRATCH FAILED"
  python training/export.py --work "$WORK/scratch" --data "$DATA" --out "$WORK/results/massive-scratch" \
    --name massive-scratch --version 1.0.0 || echo "EXPORT FAILED"
  mkdir -p "$WORK/results/sweep" && cp "$WORK/scratch/final.json" "$WORK/results/sweep/" 2>/dev/null
  for d in "$WORK"/scratch/members/*/; do n=$(basename "$d"); cp "$d/log.jsonl" "$WORK/results/sweep/$n.log.jsonl" 2>/dev/null; done
fi
if [[ $step == all || $step == fixtures ]]; then
  python training/make_tokenizer_fixtures.py --vocab bert-base-uncased="$DATA/bert-base-uncased-vocab.txt" \
    --vocab massive-wordpiece="$WORK/results/massive-scratch/vocab.txt" --massive-validation "$DATA/validation.jsonl" \
    --adversarial test/fixtures/tokenizer/adversarial.json --out "$WORK/results/fixtures" || echo "FIXTURES FAILED"
fi
if [[ $step == all || $step == seed ]]; then
  python training/make_tiny_distilbert.py --vocab "$DATA/bert-base-uncased-vocab.txt" --out "$WORK/tiny-distilbert" &&
  python training/train.py --recipe seed --base "$WORK/tiny-distilbert" --data "$DATA" --out "$WORK/seed" --seed-epochs 2 &&
  python training/export.py --work "$WORK/seed" --data "$DATA" --out "$WORK/seed-bundle" --name seed-tiny \
    --variants fp32,fp16,int8 --max-bytes 999999999 &&
  mkdir -p "$WORK/results/seed-tiny" && cp "$WORK/seed-bundle/parity.json" "$WORK/seed-bundle/bundle.json" "$WORK/seed/final.json" "$WORK/results/seed-tiny/" || echo "SEED PROOF FAILED"
fi
# $OUT takes at most 8 files of ≤ 16 MiB: the ONNX files (and folds.npz's parts) travel alone,
# everything else in one archive.
if [[ -d "$WORK/results/massive-scratch" ]]; then
  for f in "$WORK"/results/massive-scratch/*.onnx; do mv "$f" "$OUT/"; done
fi
tar czf "$OUT/results.tgz" -C "$WORK/results" . && ls -la "$OUT"
echo "device-run done"
