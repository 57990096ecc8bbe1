#!/usr/bin/env bash
# Instructions per request (user space, from valgrind's callgrind) of the
# axum app under wireloom-tokio and under axum::serve (hyper): a figure that
# does not move with the load of the machine, unlike req/s.
#
#   (cd bench && cargo build --release --bin axum_server)
#   bench/callgrind_axum.sh [wireloom] [hyper]
#   CG_KEEP=/tmp/cg bench/callgrind_axum.sh wireloom   # keep the profiles
#   CG_SCENARIOS="plaintext json" bench/callgrind_axum.sh   # fewer scenarios
#   CG_BIN=path/to/axum_server bench/callgrind_axum.sh     # another build
#
# For each engine and scenario (plaintext and JSON keep-alive, plaintext
# pipelined x16): starts bench/target/release/axum_server under callgrind
# on 127.0.0.1 (ephemeral port), warms up with `wrk -t1 -c8 -d2s`, zeroes
# the counters (callgrind_control -z), runs `wrk -t1 -c8 -d5s`, dumps
# (callgrind_control -d), and prints the instructions counted divided by the
# responses wrk completed. Every process started here is stopped by its PID;
# every wait is bounded. With CG_KEEP=DIR the callgrind profiles are
# copied to DIR as cg.ENGINE.SCENARIO (for `callgrind_annotate --inclusive=yes`).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B="${CG_BIN:-$HERE/target/release/axum_server}"
[ -x "$B" ] || { echo "build it first: (cd bench && cargo build --release --bin axum_server)" >&2; exit 1; }
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(wireloom hyper)
TMP=$(mktemp -d /tmp/wireloom-cg.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/pipe.lua" <<'L'
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
L
for e in "${ENGINES[@]}"; do
  for scen in ${CG_SCENARIOS:-plaintext json pipelined}; do
    P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$e.$scen.%p" "$B" --engine "$e" \
        --addr "127.0.0.1:$P" >/dev/null 2>"$TMP/cg.$e.$scen.log" &
    VP=$!
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$P/plaintext" && break
        sleep 0.2
    done
    path=/plaintext; args=()
    [ "$scen" = json ] && path=/json
    [ "$scen" = pipelined ] && args=(-s "$TMP/pipe.lua")
    timeout 30 wrk -t1 -c8 -d2s "${args[@]}" "http://127.0.0.1:$P$path" >/dev/null 2>&1
    callgrind_control -z "$VP" >/dev/null
    out=$(timeout 60 wrk -t1 -c8 -d5s "${args[@]}" "http://127.0.0.1:$P$path")
    n=$(awk '/ requests in / {print $1}' <<<"$out")
    callgrind_control -d "$VP" >/dev/null
    sleep 1
    f=$(ls -t "$TMP/cg.$e.$scen.$VP"* | head -1)
    ir=$(grep -E "^(summary|totals):" "$f" | head -1 | awk '{print $2}')
    [ -n "${CG_KEEP:-}" ] && mkdir -p "$CG_KEEP" && cp "$f" "$CG_KEEP/cg.$e.$scen"
    echo "$e $scen responses=$n instructions=$ir per_request=$(awk -v a="$ir" -v b="$n" 'BEGIN{printf "%.0f", a/b}')"
    kill "$VP" 2>/dev/null
    wait "$VP" 2>/dev/null
  done
done
