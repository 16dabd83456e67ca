#!/usr/bin/env bash
# gpu-service benchmark on the GPU host (docs/BENCHMARKS.md "## gpu-service"). Needs: node and
# onnxruntime-node with the CUDA provider through NODE_PATH (/tmp/gpu-host/env.sh, made on the host
# by bench/gpu-host-unpack.sh from the parts bench/gpu-host-pack.sh builds here), python with torch,
# transformers, onnxruntime, and the dist/*.mjs of `npm run build:gpu-service`, carried along.
# Every result is one JSON line on stdout (each load step followed by its /metrics deltas: runs,
# rows per run, model ms per run, event-loop delay); each step is guarded, so one failure does not
# lose the others. About 9 minutes on an H100 with the default SECONDS_PER_RUN=10 (2026-11-27; each
# service warms every shape bucket first): it fits one 10-minute device call.
#
#   bash bench/gpu-host.sh            # OUT=/tmp/out by default; logs under $OUT
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/gpu-host-lib.sh
# STEPS: which parts run (default all): ceiling, threads, nosplit, nobuckets, main, seed, default, smoke.
STEPS=${STEPS:-ceiling,threads,nosplit,nobuckets,main,seed,default,smoke}
step() { [[ ",$STEPS," == *",$1,"* ]]; }

# (2a) the raw onnxruntime-node ceiling on the same bundle, provider and variant: no HTTP, no batcher.
if step ceiling && [[ -f $BUNDLE/bundle.json ]]; then
  timeout 120 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --batches 1,256,1024 \
    --seq 24 --seconds 10 2>"$OUT/ceiling.log" || note ceiling "$(tail -c 400 "$OUT/ceiling.log" | tr '"\n' "' ")"
fi
# (2a'') the same at the length the service pads MASSIVE-length rows to without a length split (20).
if step ceiling && [[ -f $BUNDLE/bundle.json ]]; then
  timeout 60 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --batches 1024 \
    --seq 20 --seconds 10 --label ceiling_seq20 2>>"$OUT/ceiling.log" || note ceiling_seq20 "$(tail -c 400 "$OUT/ceiling.log" | tr '"\n' "' ")"
fi
# (2a') why --shape-buckets: a shape's first run against a repeat (random shapes, 1-256 rows, 6-20 tokens).
if step ceiling && [[ -f $BUNDLE/bundle.json ]]; then
  timeout 120 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --varied 400 \
    2>>"$OUT/ceiling.log" || note ceiling_varied "$(tail -c 400 "$OUT/ceiling.log" | tr '"\n' "' ")"
fi
# (2b) the same graph with int32 inputs (gpu-service-export.py writes it when the graph allows).
if step ceiling && [[ -f $BUNDLE.fp16-int32.onnx ]]; then
  timeout 120 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --batches 1,1024 \
    --seq 24 --seconds 10 --model "$BUNDLE.fp16-int32.onnx" --int32 --label ceiling_int32 2>"$OUT/ceiling-int32.log" \
    || note ceiling_int32 "$(tail -c 400 "$OUT/ceiling-int32.log" | tr '"\n' "' ")"
fi

# (2) the service on CUDA with the full-size bundle: saturation, single-text latency and many
#     single-text requests, all in one process; first with HTTP on HTTP_THREADS threads (the issue
#     13 configuration), then with HTTP on the main thread, the way before --http-threads.
PORT=8500
# --min-split-rows 128: runs of ≥ 256 rows split by length (auto leaves it off on CUDA: docs/BENCHMARKS.md).
FULL_FLAGS=(--bundle "$BUNDLE" --max-batch-size 1024 --max-batch-tokens 32768 --max-queue-rows 65536 --min-split-rows 128)
HTTP_THREADS=${HTTP_THREADS:-4}
# EXTRA_FLAGS: more service flags for both configurations (e.g. --intra-op-threads 16).
read -ra EXTRA <<<"${EXTRA_FLAGS:-}"
FULL_FLAGS+=("${EXTRA[@]}")
if step threads && [[ -f $BUNDLE/bundle.json ]] && start_service $PORT "$OUT/service-full-threads.log" "${FULL_FLAGS[@]}" \
    --http-threads "$HTTP_THREADS"; then
  load "threads${HTTP_THREADS}_latency_c1_t1" 1 1
  load "threads${HTTP_THREADS}_saturation_c256_t32" 256 32 8
  load "threads${HTTP_THREADS}_saturation_c256_t1" 256 1 8
  load "threads${HTTP_THREADS}_saturation_c64_t32" 64 32 4
  load "threads${HTTP_THREADS}_saturation_c512_t32" 512 32 8
  stop_service
fi
# The same threads configuration without the length split (--min-split-rows 0): saturation.
PORT=8505
if step nosplit && [[ -f $BUNDLE/bundle.json ]] && start_service $PORT "$OUT/service-full-nosplit.log" \
    "${FULL_FLAGS[@]}" --http-threads "$HTTP_THREADS" --min-split-rows 0; then
  load "threads${HTTP_THREADS}_nosplit_saturation_c256_t32" 256 32 8
  stop_service
fi
# The same threads configuration without shape buckets (before --shape-buckets): the steps they change.
PORT=8504
if step nobuckets && [[ -f $BUNDLE/bundle.json ]] && start_service $PORT "$OUT/service-full-nobuckets.log" \
    "${FULL_FLAGS[@]}" --http-threads "$HTTP_THREADS" --shape-buckets off; then
  load "threads${HTTP_THREADS}_nobuckets_latency_c1_t1" 1 1
  load "threads${HTTP_THREADS}_nobuckets_saturation_c256_t1" 256 1 8
  stop_service
fi
PORT=8503
if step main && [[ -f $BUNDLE/bundle.json ]] && start_service $PORT "$OUT/service-full.log" "${FULL_FLAGS[@]}"; then
  load main_latency_c1_t1 1 1
  load main_saturation_c256_t32 256 32 8
  load main_saturation_c256_t1 256 1 8
  stop_service
fi

# (3) the seed card's way on the same GPU and geometry.
if step seed && [[ -d $WORK/hf ]]; then
  timeout 120 python bench/seed_way.py --hf "$WORK/hf" --seconds 20 2>"$OUT/seed.log" \
    || note seed_way "$(tail -c 400 "$OUT/seed.log" | tr '"\n' "' ")"
fi

# (4) the default bundle's fp16 variant through the service on CUDA: MASSIVE test accuracy.
PORT=8501
if step default && start_service $PORT "$OUT/service-default.log" --bundle models/massive-scratch --variant fp16; then
  if [[ -f $DATA/test.jsonl ]]; then
    timeout 120 node dist/gpu-accuracy.mjs --url "http://127.0.0.1:$PORT" --data "$DATA/test.jsonl" \
      --vocab models/massive-scratch/vocab.txt || note accuracy "failed"
  else note accuracy "$DATA/test.jsonl missing"; fi
  load default_latency_c1_t1 1 1
  load default_saturation_c256_t32 256 32 8
fi
# (5) the go-live smoke test (docs/DEPLOY.md §7.2) against the default bundle served the production
#     way: a token, fp16 on CUDA; it checks auth, provider, bundle and parity with parity.json.
if step smoke; then
  TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  INTENTQL_UPSTREAM_TOKEN=$TOKEN NODE_ENV=production node dist/gpu-service.mjs --host 127.0.0.1 --port 8502 \
    --device "$DEVICE" --bundle models/massive-scratch 2>"$OUT/service-smoke.log" &
  PIDS+=($!)
  INTENTQL_UPSTREAM_TOKEN=$TOKEN timeout 240 node dist/smoke-test.mjs --url http://127.0.0.1:8502 \
    --bundle models/massive-scratch --data "$DATA/test.jsonl" --expect-provider "$DEVICE" --wait-s 180 \
    | sed 's/^{/{"step":"smoke",/' || note smoke "smoke test failed (see the lines above)"
fi
echo '{"step":"done"}'
