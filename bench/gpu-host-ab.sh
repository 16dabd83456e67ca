#!/usr/bin/env bash
# gpu-service on the GPU host, an earlier build against this one, interleaved rounds on the same
# machine (docs/BENCHMARKS.md, "## gpu-service"): one text at concurrency 1, 256 clients × 32 texts,
# 256 clients × 1 text, each with its /metrics deltas; the raw onnxruntime-node ceiling at batch 1024
# for rows padded to 20 and 24 tokens; and this build with --pad-multiple 1.
#
#   BASE_SERVICE=.device/base/gpu-service.mjs bash bench/gpu-host-ab.sh
#   (the base: `npm run build:gpu-service` in a worktree of the base commit; its dist/gpu-service.mjs)
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${SECONDS_PER_RUN:-8}
source bench/gpu-host-lib.sh
ROUNDS=${ROUNDS:-2}
[[ -f ${BASE_SERVICE:-} ]] || { note ab "BASE_SERVICE=${BASE_SERVICE:-} is not a file"; exit 1; }
FLAGS=(--bundle "$BUNDLE" --max-batch-size 1024 --max-batch-tokens 32768 --max-queue-rows 65536)
for seq in 20 24; do
  timeout 60 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --batches 1024 \
    --seq "$seq" --seconds 8 --label "ceiling_s$seq" || note ceiling "seq $seq failed"
done
PORT=8600
for round in $(seq "$ROUNDS"); do
  for side in base head; do
    service=$([[ $side == base ]] && echo "$BASE_SERVICE" || echo dist/gpu-service.mjs)
    SERVICE=$service start_service $PORT "$OUT/ab-$side-$round.log" "${FLAGS[@]}" --pad-multiple 8 || continue
    load "${side}_r${round}_c1_t1" 1 1
    load "${side}_r${round}_c256_t32" 256 32 8
    load "${side}_r${round}_c256_t1" 256 1 8
    stop_service
  done
done
if start_service $PORT "$OUT/ab-pad1.log" "${FLAGS[@]}" --pad-multiple 1; then
  load head_pad1_c256_t32 256 32 8
  load head_pad1_c1_t1 1 1
  stop_service
fi
echo '{"step":"done"}'
