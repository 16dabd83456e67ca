#!/usr/bin/env bash
# gpu-service benchmark on the GPU host (docs/BENCHMARKS.md "## gpu-service"). Needs: node and
# onnxruntime-node with the CUDA provider through NODE_PATH (/tmp/gpu-host/env.sh, made on the host
# by bench/gpu-host-unpack.sh from the parts bench/gpu-host-pack.sh builds here), python with torch,
# transformers, onnxruntime, and the dist/*.mjs of `npm run build:gpu-service`, carried along.
# Every result is one JSON line on stdout (each load step followed by its /metrics deltas: runs,
# rows per run, model ms per run, event-loop delay); each step is guarded, so one failure does not
# lose the others. About 6 minutes.
#
#   bash bench/gpu-host.sh            # OUT=/tmp/out by default; logs under $OUT
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
DATA=${DATA:-data/massive-en}  # MASSIVE en-US, in the repository (CC BY 4.0)
WORK=${WORK:-/tmp/gpu-bench}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-12}
DEVICE=${DEVICE:-cuda} # DEVICE=cpu: a dry run of the script itself on a machine without a GPU
mkdir -p "$OUT" "$WORK"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# node + onnxruntime-node + its CUDA provider, built here by bench/gpu-host-pack.sh and unpacked on
# the host by bench/gpu-host-unpack.sh (docs/BENCHMARKS.md, "## gpu-service").
[[ ! -f /tmp/gpu-host/env.sh && -f /tmp/parts/SHA256 ]] && bash bench/gpu-host-unpack.sh /tmp/parts >&2
[[ -f /tmp/gpu-host/env.sh && -z "${NODE_PATH:-}" ]] && source /tmp/gpu-host/env.sh
python() { if type -P python >/dev/null; then command python "$@"; else python3 "$@"; fi; }
note() { echo "{\"step\":\"$1\",\"error\":\"$2\"}"; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

echo "{\"step\":\"host\",\"gpu\":\"$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)\",\"node\":\"$(node --version 2>/dev/null)\",\"nodePath\":\"${NODE_PATH:-}\"}"
for f in dist/gpu-service.mjs dist/gpu-service-session-thread.mjs dist/gpu-load.mjs dist/gpu-accuracy.mjs dist/ort-ceiling.mjs; do [[ -f $f ]] || note build "$f missing: run npm run build:gpu-service and carry dist"; done

# Starts the service with the given flags on a port; waits up to 180 s for /v2/health/ready.
start_service() { # port logfile flags...
  local port=$1 log=$2; shift 2
  # Loopback only, load generator without a token: the one place --insecure-no-auth belongs.
  node dist/gpu-service.mjs --host 127.0.0.1 --port "$port" --device "$DEVICE" --insecure-no-auth "$@" 2>"$log" &
  PIDS+=($!)
  local pid=$!
  for _ in $(seq 1 180); do
    if curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1; then
      grep -m1 '"event":"model_loaded"' "$log"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  note service "port $port not ready: $(tail -c 600 "$log" | tr '"\n' "' ")"; return 1
}
# Counters of the service's /metrics that matter per load step (runs, rows, model seconds) and the
# main thread's event-loop delay since the previous scrape.
scrape() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^intentql_batch_rows_sum/{rows=$2} /^intentql_batch_rows_count/{runs=$2}
  /^intentql_inference_seconds_sum/{secs=$2}
  /^intentql_event_loop_delay_seconds\{stat="p99"\}/{p99=$2} /^intentql_event_loop_delay_seconds\{stat="max"\}/{mx=$2}
  END{printf "%s %s %s %s %s\n", rows+0, runs+0, secs+0, p99+0, mx+0}'; }
load() { # label concurrency texts [processes]
  local before after
  scrape >/dev/null # resets the event-loop histogram: the step's own delay is what the next scrape shows
  before=$(scrape)
  timeout 90 node dist/gpu-load.mjs --url "http://127.0.0.1:$PORT" --label "$1" --concurrency "$2" --texts "$3" \
    --seconds "$SECONDS_PER_RUN" --warmup 3 --processes "${4:-1}" || note "$1" "load generator failed"
  after=$(scrape)
  awk -v l="$1" -v b="$before" -v a="$after" 'BEGIN{
    split(b, x, " "); split(a, y, " "); r = y[1] - x[1]; n = y[2] - x[2]; s0 = x[3]; s1 = y[3]; p99 = y[4]; mx = y[5]
    printf "{\"step\":\"%s_metrics\",\"runs\":%d,\"rowsPerRun\":%.1f,\"modelMsPerRun\":%.3f,\"eventLoopP99Ms\":%.2f,\"eventLoopMaxMs\":%.2f}\n",
      l, n, (n > 0 ? r / n : 0), (n > 0 ? (s1 - s0) * 1000 / n : 0), p99 * 1000, mx * 1000 }'
}

# (1) full-size DistilBERT geometry (6 layers, 768, 12 heads, 3072 FFN; random weights), fp16 bundle.
VOCAB=${VOCAB:-models/massive-scratch/vocab.txt}
BUNDLE="$WORK/distilbert-full"
if [[ ! -f $BUNDLE/bundle.json ]]; then
  timeout 200 python training/make_tiny_distilbert.py --vocab "$VOCAB" --out "$WORK/hf" --full >"$OUT/make.log" 2>&1 \
    || note make_model "$(tail -c 400 "$OUT/make.log" | tr '"\n' "' ")"
  timeout 240 python bench/gpu-service-export.py --hf "$WORK/hf" --out "$BUNDLE" 2>"$OUT/export.log" \
    || note export "$(tail -c 400 "$OUT/export.log" | tr '"\n' "' ")"
fi

# (2a) the raw onnxruntime-node ceiling on the same bundle, provider and variant: no HTTP, no batcher.
if [[ -f $BUNDLE/bundle.json ]]; then
  timeout 120 node dist/ort-ceiling.mjs --bundle "$BUNDLE" --device "$DEVICE" --variant fp16 --batches 256,1024 \
    --seq 24 --seconds 10 2>"$OUT/ceiling.log" || note ceiling "$(tail -c 400 "$OUT/ceiling.log" | tr '"\n' "' ")"
fi

# (2) the service on CUDA with the full-size bundle: saturation and single-text latency.
PORT=8500
if [[ -f $BUNDLE/bundle.json ]] && start_service $PORT "$OUT/service-full.log" --bundle "$BUNDLE" \
    --max-batch-size 1024 --max-batch-tokens 32768 --max-queue-rows 65536 --pad-multiple 8; then
  load latency_c1_t1 1 1
  load saturation_c64_t32 64 32 4
  load saturation_c256_t32 256 32 8
  load saturation_c256_t1 256 1 8
  load saturation_c512_t32 512 32 8
  kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null
fi

# (3) the seed card's way on the same GPU and geometry.
if [[ -d $WORK/hf ]]; then
  timeout 120 python bench/seed_way.py --hf "$WORK/hf" --seconds 20 2>"$OUT/seed.log" \
    || note seed_way "$(tail -c 400 "$OUT/seed.log" | tr '"\n' "' ")"
fi

# (4) the default bundle's fp16 variant through the service on CUDA: MASSIVE test accuracy.
PORT=8501
if start_service $PORT "$OUT/service-default.log" --bundle models/massive-scratch --variant fp16; then
  if [[ -f $DATA/test.jsonl ]]; then
    timeout 120 node dist/gpu-accuracy.mjs --url "http://127.0.0.1:$PORT" --data "$DATA/test.jsonl" \
      --vocab models/massive-scratch/vocab.txt || note accuracy "failed"
  else note accuracy "$DATA/test.jsonl missing"; fi
  load default_latency_c1_t1 1 1
  load default_saturation_c256_t32 256 32 8
fi
# (5) the go-live smoke test (docs/DEPLOY.md §7.2) against the default bundle served the production
#     way: a token, fp16 on CUDA; it checks auth, provider, bundle and parity with parity.json.
TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
INTENTQL_UPSTREAM_TOKEN=$TOKEN NODE_ENV=production node dist/gpu-service.mjs --host 127.0.0.1 --port 8502 \
  --device "$DEVICE" --bundle models/massive-scratch 2>"$OUT/service-smoke.log" &
PIDS+=($!)
INTENTQL_UPSTREAM_TOKEN=$TOKEN timeout 240 node dist/smoke-test.mjs --url http://127.0.0.1:8502 \
  --bundle models/massive-scratch --data "$DATA/test.jsonl" --expect-provider "$DEVICE" --wait-s 180 \
  | sed 's/^{/{"step":"smoke",/' || note smoke "smoke test failed (see the lines above)"
echo '{"step":"done"}'
