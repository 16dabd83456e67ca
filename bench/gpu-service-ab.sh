#!/usr/bin/env bash
# gpu-service on CPU, this checkout against an earlier commit, interleaved rounds (medians): texts/s
# at saturation and GET /v2/health/live latency while saturated (bench/gpu-service-cpu-ab.ts).
# usage: bench/gpu-service-ab.sh BASE_REV [ROUNDS=3] [SECONDS=6]
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:?usage: bench/gpu-service-ab.sh BASE_REV [ROUNDS] [SECONDS]}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base_rev"
ln -s "$PWD/node_modules" "$work/base/node_modules"
node --import tsx bench/gpu-service-cpu-ab.ts --root "$work/base" --root . --rounds "${2:-3}" --seconds "${3:-6}"
