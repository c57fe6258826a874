#!/usr/bin/env bash
# HTTP load test (issue 16, BENCHMARKS.md "HTTP (issue 16)"): `kinfolk serve`
# against the hand-written axum + rusqlite baseline (examples/http_baseline.rs),
# on the same SQLite file, in the same run, at the same concurrency, with wrk
# (apt-get install wrk) on loopback. Each server is measured alone (the other
# idles); per request kind, ROUNDS rounds alternate which server goes first
# (odd rounds: hand-written first). The table gives the median of the rounds
# per column and the median of the per-round latency ratios; `uptime` is
# printed before each row (other processes share the CPUs: say so).
#
#   adapters/http/bench/run.sh   # USERS=10000 CONN=16 DUR=10s THREADS=2 ROUNDS=3
#   SKIP_BUILD=1 reuses the release binaries under $CARGO_TARGET_DIR/release.
set -euo pipefail
cd "$(dirname "$0")/../../.."
USERS=${USERS:-10000}
CONN=${CONN:-16}
DUR=${DUR:-10s}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
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

# wrk's latency summary as "avg p50 p99 req/s" (latencies in µs). wrk prints
# a latency as a number and a unit (us, ms, s, m) and req/s as a plain number
# or with a k/M suffix; anything else fails loudly with wrk's output.
parse() { # file
  python3 - "$1" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
UNIT = {"us": 1, "ms": 1e3, "s": 1e6, "m": 6e7, "h": 3.6e9}
def us(s):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", s)
    if not m:
        sys.exit(f"cannot read latency {s!r} in:\n{t}")
    return float(m.group(1)) * UNIT[m.group(2)]
def field(pat):
    m = re.search(pat, t, re.M)
    if not m:
        sys.exit(f"no {pat!r} in wrk output:\n{t}")
    return m.group(1)
# Anchored at line starts: an unanchored "50%" also matches the end of a
# "+/- Stdev" column such as "87.50%" (the old parser's follow-toggle failure).
avg = us(field(r"^\s*Latency\s+(\S+)"))
p50 = us(field(r"^\s*50%\s+(\S+)"))
p99 = us(field(r"^\s*99%\s+(\S+)"))
r = field(r"^Requests/sec:\s+(\S+)")
rps = float(r.rstrip("kM")) * {"k": 1e3, "M": 1e6}.get(r[-1], 1)
print(f"{avg:.0f} {p50:.0f} {p99:.0f} {rps:.0f}")
PY
}

measure() { # port path [script] -> "avg p50 p99 rps"
  local port=$1 path=$2 script=${3:-}
  local args=(-t"$THREADS" -c"$CONN" --latency -H "Authorization: Bearer $token")
  [ -n "$script" ] && args+=(-s "$script")
  # 2 s warm-up, then the measured run.
  wrk "${args[@]}" -d2s "http://127.0.0.1:$port$path" >/dev/null
  wrk "${args[@]}" -d"$DUR" "http://127.0.0.1:$port$path" >"$work/out.txt"
  if grep -q "Non-2xx" "$work/out.txt"; then
    echo "non-2xx answers from port $port on $path" >&2
    cat "$work/out.txt" >&2
    exit 1
  fi
  parse "$work/out.txt"
}

echo "# users=$USERS conn=$CONN threads=$THREADS duration=$DUR rounds=$ROUNDS (µs; req/s; medians of rounds)"
echo "| request | server | avg µs | p50 µs | p99 µs | req/s | avg ratio (rounds) | p50 ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
row() { # label path [script]
  local label=$1 path=$2 script=${3:-} r
  echo "<!-- $label: $(uptime | sed 's/.*load/load/') -->"
  : >"$work/k.txt"
  : >"$work/b.txt"
  for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then
      measure 18402 "$path" "$script" >>"$work/b.txt"
      measure 18401 "$path" "$script" >>"$work/k.txt"
    else
      measure 18401 "$path" "$script" >>"$work/k.txt"
      measure 18402 "$path" "$script" >>"$work/b.txt"
    fi
  done
  python3 - "$label" "$work/k.txt" "$work/b.txt" <<'PY'
import statistics as st, sys
label = sys.argv[1]
k = [list(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
b = [list(map(float, l.split())) for l in open(sys.argv[3]) if l.strip()]
med = lambda rows, i: st.median(r[i] for r in rows)
ratios = [kk[0] / bb[0] for kk, bb in zip(k, b)]
p50r = st.median(kk[1] / bb[1] for kk, bb in zip(k, b))
rr = ", ".join(f"{x:.2f}" for x in ratios)
def cols(rows):
    return " | ".join(f"{med(rows, i):.0f}" for i in range(4))
print(f"| {label} | kinfolk-http | {cols(k)} | {st.median(ratios):.2f}× ({rr}) | {p50r:.2f}× |")
print(f"| {label} | hand-written | {cols(b)} | 1.00× | 1.00× |")
PY
}
row "GET own profile" /v1/me
row "GET profile by username" "/v1/users/$owner_name"
row "followers page of 20" "/v1/users/$owner/followers?limit=20"
row "follow toggle" "/v1/users/$target/follow" "$work/post.lua"
echo "<!-- end: $(uptime | sed 's/.*load/load/') -->"
