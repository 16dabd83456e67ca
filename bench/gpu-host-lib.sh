# Shared by bench/gpu-host.sh and bench/gpu-host-ab.sh (sourced from the repository root): the host's
# runtime (node, onnxruntime-node with CUDA), the service and load helpers, and the full-size bundle.
OUT=${OUT:-/tmp/out}
DATA=${DATA:-data/massive-en}  # MASSIVE en-US, in the repository (CC BY 4.0)
WORK=${WORK:-/tmp/gpu-bench}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
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
for f in dist/gpu-service.mjs dist/gpu-service-session-thread.mjs dist/gpu-service-http-thread.mjs dist/gpu-load.mjs dist/gpu-accuracy.mjs dist/ort-ceiling.mjs; do [[ -f $f ]] || note build "$f missing: run npm run build:gpu-service and carry dist"; done

# Starts the service with the given flags on a port; waits up to 180 s for /v2/health/ready.
start_service() { # port logfile flags...
  local port=$1 log=$2; shift 2
  # Loopback only, load generator without a token: the one place --insecure-no-auth belongs.
  node "${SERVICE:-dist/gpu-service.mjs}" --host 127.0.0.1 --port "$port" --device "$DEVICE" --insecure-no-auth "$@" 2>"$log" &
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
# Stops the service start_service started last and waits for it to exit.
stop_service() { kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null; }
# Counters of the service's /metrics that matter per load step (runs, rows, model seconds) and the
# event-loop delay since the previous scrape: the main thread's, and the worst HTTP thread's
# (--http-threads; 0 without).
scrape() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^intentql_batch_rows_sum/{rows=$2} /^intentql_batch_rows_count/{runs=$2}
  /^intentql_inference_seconds_sum/{secs=$2}
  /^intentql_batch_tokens_sum/{tokens=$2} /^intentql_split_runs_total/{splits=$2} /^intentql_direct_runs_total/{direct=$2}
  /^intentql_event_loop_delay_seconds\{stat="p99"(,thread="main")?\}/{p99=$2}
  /^intentql_event_loop_delay_seconds\{stat="max"(,thread="main")?\}/{mx=$2}
  /^intentql_event_loop_delay_seconds\{stat="p99",thread="http-/{if ($2 > hp99) hp99=$2}
  END{printf "%s %s %s %s %s %s %s %s %s\n", rows+0, runs+0, secs+0, p99+0, mx+0, hp99+0, tokens+0, splits+0, direct+0}'; }
load() { # label concurrency texts [processes]
  local before after
  scrape >/dev/null # resets the event-loop histogram: the step's own delay is what the next scrape shows
  before=$(scrape)
  timeout 90 node dist/gpu-load.mjs --url "http://127.0.0.1:$PORT" --label "$1" --concurrency "$2" --texts "$3" \
    --seconds "$SECONDS_PER_RUN" --warmup 3 --processes "${4:-1}" || note "$1" "load generator failed"
  after=$(scrape)
  awk -v l="$1" -v b="$before" -v a="$after" 'BEGIN{
    split(b, x, " "); split(a, y, " "); r = y[1] - x[1]; n = y[2] - x[2]; s0 = x[3]; s1 = y[3]; p99 = y[4]; mx = y[5]; hp99 = y[6]
    t = y[7] - x[7]; sp = y[8] - x[8]; dr = y[9] - x[9]
    printf "{\"step\":\"%s_metrics\",\"runs\":%d,\"rowsPerRun\":%.1f,\"paddedTokensPerRow\":%.2f,\"splitRuns\":%d,\"directRuns\":%d,\"modelMsPerRun\":%.3f,\"eventLoopP99Ms\":%.2f,\"eventLoopMaxMs\":%.2f,\"httpThreadLoopP99Ms\":%.2f}\n",
      l, n, (n > 0 ? r / n : 0), (r > 0 ? t / r : 0), sp, dr, (n > 0 ? (s1 - s0) * 1000 / n : 0), p99 * 1000, mx * 1000, hp99 * 1000 }'
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

