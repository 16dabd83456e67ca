#!/usr/bin/env bash
# Side by side: `npm run bench:edge` of this checkout against an earlier commit, alternating runs so
# both see the same machine noise, then the median of each figure.
# usage: bench/edge-ab.sh BASE_REV [RUNS=3] [-- bench:edge flags, default --connections 1 --duration 10]
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:?usage: bench/edge-ab.sh BASE_REV [RUNS] [-- flags]}
runs=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
[[ ${1:-} == "--" ]] && shift
flags=("$@")
[[ ${#flags[@]} -eq 0 ]] && flags=(--connections 1 --duration 10)
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/base" "$base_rev"
ln -s "$PWD/node_modules" "$work/base/node_modules"
log="$work/runs.log"
for i in $(seq "$runs"); do
  for side in base head; do
    dir=$([[ $side == base ]] && echo "$work/base" || echo "$PWD")
    # --no-write: revisions before bench:edge's --write wrote docs/BENCHMARKS.md by default.
    (cd "$dir" && npm run -s bench:edge -- "${flags[@]}" --no-write 2>&1) |
      grep -E '^(e2e|edge cpu) ' | sed "s/^/$side /" | tee -a "$log"
  done
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const groups = {};
for (const line of lines) {
  const m = /^(base|head) (e2e|edge cpu) (\d+) text\(s\): (.*)$/.exec(line);
  if (!m) continue;
  const key = `${m[2]} ${m[3]} text(s)`;
  ((groups[key] ??= { base: [], head: [] })[m[1]]).push(JSON.parse(m[4]));
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
console.log("| measure | figure | base (median) | head (median) | head / base |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const [key, { base, head }] of Object.entries(groups))
  for (const field of key.startsWith("e2e") ? ["p50", "p99", "rps"] : ["cpuMs"]) {
    const b = median(base.map((r) => r[field])), h = median(head.map((r) => r[field]));
    console.log(`| ${key} | ${field} | ${+b.toFixed(2)} | ${+h.toFixed(2)} | ${(h / b).toFixed(2)} |`);
  }
' "$log"
