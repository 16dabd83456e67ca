#!/usr/bin/env bash
# One GPU-host call: setting_study (class-balanced sampling, balance 0.3 and 0.6) and, when a changed mix beat its
# baseline on validation, the final stage + export + evaluation + tokenizer fixtures of that mix.
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
D=.device/issue14/data; V=training/logs/fold-sweep-2026-11-27/sweep/vocab.txt
start=$(date +%s)
python training/setting_study.py --change 'bal3={"balance": 0.3}' --change 'bal6={"balance": 0.6}' \
  --data $D --vocab $V --word-vectors $D/word_vectors.txt --out /tmp/ss --parallel 18 --member-timeout 290
mkdir -p /tmp/ssr/members; cp /tmp/ss/study.json /tmp/ss/selection.json /tmp/ssr/ 2>/dev/null
for d in /tmp/ss/members/*/; do cp $d/log.jsonl /tmp/ssr/members/$(basename $d).log.jsonl; done
tar czf $OUT/study.tgz -C /tmp/ssr .
if [[ -f /tmp/ss/selection.json ]]; then
  left=$(( 575 - ($(date +%s) - start) - 75 ))
  echo "final stage: $left s for its fits"
  INTENTQL_TRAIN_PARALLEL=16 SELECTION=/tmp/ss/selection.json VOCAB=$V DATA=$D MEMBER_TIMEOUT=$left VERSION=1.5.0 bash training/device_run.sh final
  python training/make_tokenizer_fixtures.py --vocab massive-wordpiece=$V --massive-validation $D/validation.jsonl \
    --adversarial test/fixtures/tokenizer/adversarial.json --out /tmp/fx && tar czf $OUT/fixtures.tgz -C /tmp/fx . || echo "FIXTURES FAILED"
fi
echo "call done after $(( $(date +%s) - start )) s"
