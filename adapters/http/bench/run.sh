#!/usr/bin/env bash
# HTTP load test (issue 16, BENCHMARKS.md "HTTP (issue 16)"): `kinfolk serve`
# against the hand-written axum + rusqlite baseline (examples/http_baseline.rs),
# on the same SQLite file, in the same run, at the same concurrency, with wrk
# (apt-get install wrk) on loopback. Each server is measured alone (the other
# idles), one after the other per request kind.
#
#   adapters/http/bench/run.sh            # USERS=10000 CONN=16 DUR=10s THREADS=2
set -euo pipefail
cd "$(dirname "$0")/../../.."
USERS=${USERS:-10000}
CONN=${CONN:-16}
DUR=${DUR:-10s}
THREADS=${THREADS:-2}
bin=${CARGO_TARGET_DIR:-target}/release
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q -p kinfolk-cli -p kinfolk-benches -p kinfolk-http --bins \
  --example http_baseline
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin/kinfolk-scale" build sqlite "$work/data" "$USERS" >"$work/build.log" 2>&1
db="$work/data/kinfolk.db"
read -r viewer owner owner_name target < <("$bin/examples/http_baseline" "$db" sample)
export KINFOLK_JWT_SECRET="bench-secret-$RANDOM$RANDOM$RANDOM"
token=$("$bin/kinfolk" --db "$db" token --user "$viewer" --ttl 2h)

NO_COLOR=1 "$bin/kinfolk" --db "$db" serve --listen 127.0.0.1:18401 --rate-per-minute 0 \
  2>"$work/kinfolk.log" &
pids+=($!)
"$bin/examples/http_baseline" "$db" 127.0.0.1:18402 2>"$work/baseline.log" &
pids+=($!)
for port in 18401 18402; do
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/me" && break
    sleep 0.2
  done
done

cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
LUA

# wrk's latency summary: avg, p50, p99 (in µs), requests/s.
measure() { # name port path [script]
  local name=$1 port=$2 path=$3 script=${4:-}
  local args=(-t"$THREADS" -c"$CONN" -d"$DUR" --latency -H "Authorization: Bearer $token")
  [ -n "$script" ] && args+=(-s "$script")
  # 2 s warm-up, then the measured run.
  wrk "${args[@]}" -d2s "http://127.0.0.1:$port$path" >/dev/null
  wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$work/out.txt"
  if grep -q "Non-2xx" "$work/out.txt"; then
    echo "non-2xx answers from $name on $path" >&2
    cat "$work/out.txt" >&2
    exit 1
  fi
  python3 - "$work/out.txt" "$name" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(s):
    v, u = float(re.match(r"([\d.]+)", s).group(1)), re.search(r"(us|ms|s|m)$", s).group(1)
    return v * {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7}[u]
avg = us(re.search(r"Latency\s+(\S+)", t).group(1))
p50 = us(re.search(r"50%\s+(\S+)", t).group(1))
p99 = us(re.search(r"99%\s+(\S+)", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
print(f"{sys.argv[2]} {avg:.0f} {p50:.0f} {p99:.0f} {rps:.0f}")
PY
}

echo "# users=$USERS conn=$CONN threads=$THREADS duration=$DUR (µs; req/s)"
echo "| request | server | avg µs | p50 µs | p99 µs | req/s | avg ratio |"
echo "|---|---|---:|---:|---:|---:|---:|"
row() { # label path [script]
  local k b
  k=$(measure kinfolk-http 18401 "$2" "${3:-}")
  b=$(measure baseline 18402 "$2" "${3:-}")
  read -r _ ka kp50 kp99 krps <<<"$k"
  read -r _ ba bp50 bp99 brps <<<"$b"
  ratio=$(python3 -c "print(f'{$ka/$ba:.2f}×')")
  echo "| $1 | kinfolk-http | $ka | $kp50 | $kp99 | $krps | $ratio |"
  echo "| $1 | hand-written | $ba | $bp50 | $bp99 | $brps | 1.00× |"
}
row "GET own profile" /v1/me
row "GET profile by username" "/v1/users/$owner_name"
row "followers page of 20" "/v1/users/$owner/followers?limit=20"
row "follow toggle" "/v1/users/$target/follow" "$work/post.lua"
