#!/usr/bin/env bash
# Head parsing, wireloom-core vs httparse, measured two more ways than
# `cargo bench -p wireloom-core --bench parse -- --alternate` (see
# BENCHMARKS.md, "HTTP head parsing"):
#
#   bench/parse_counts.sh ir    [BIN]   # callgrind instructions per parse
#   bench/parse_counts.sh floor [BIN]   # CPU-time floor per parse
#   bench/parse_counts.sh conn  [BIN]   # callgrind instructions per request
#                                       # through Server/ClientConnection
#
# BIN defaults to the bench binary cargo builds from this checkout (for a
# before/after comparison, copy the binary of the other commit and pass it).
#
# ir:    for every input and contestant, two callgrind runs of
#        `parse-* --iters N --only INPUT/CONTESTANT` (N and 0 iterations);
#        prints (Ir(N) - Ir(0)) / N. Deterministic: the figure to compare
#        changes with on a loaded machine.
# floor: R rounds (default 20), each running every contestant of every input
#        as its own process (`--iters`), alternating; takes each one's
#        lowest CPU time (user + system, from wait4) per parse over the
#        rounds. Load from other processes only ever adds time, so the
#        lowest of many short runs is the least disturbed one. Indicative.
# conn:  `connection-* --iters 500` under callgrind; prints the inclusive
#        instructions of one server round and one client round per request
#        (16 requests a round).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ir}
bin_of() {
    cargo bench -p wireloom-core --bench "$1" --no-run 2>&1 |
        sed -n "s/.*Executable benches\/$1.rs (\(.*\))/\1/p"
}
case "$mode" in
ir)
    bin=${2:-$(bin_of parse)}
    n=20000
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ {print $4}'; }
    for input in req_720 get_small resp_typical; do
        for who in httparse wireloom_raw wireloom_head; do
            a=$(ir "$bin" --iters 0 --only "$input/$who")
            b=$(ir "$bin" --iters $n --only "$input/$who")
            echo "$input $who $(( (b - a) / n ))"
        done
    done
    ;;
floor)
    bin=${2:-$(bin_of parse)}
    python3 - "$bin" "${R:-20}" <<'EOF'
import os, subprocess, sys
bin, rounds = sys.argv[1], int(sys.argv[2])
inputs = {'req_720': 100000, 'get_small': 300000, 'resp_typical': 150000}
who = ['httparse', 'wireloom_raw', 'wireloom_head']
best = {}
for _ in range(rounds):
    for inp, n in inputs.items():
        for w in who:
            p = subprocess.Popen([bin, '--iters', str(n), '--only', f'{inp}/{w}'])
            _, _, ru = os.wait4(p.pid, 0)
            t = (ru.ru_utime + ru.ru_stime) * 1e9 / n
            best[inp, w] = min(best.get((inp, w), t), t)
for inp in inputs:
    h = best[inp, 'httparse']
    print(inp, '  '.join(f'{w} {best[inp, w]:.1f} ns ({best[inp, w] / h:.2f})' for w in who))
EOF
    ;;
conn)
    bin=${2:-$(bin_of connection)}
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --iters 500 >/dev/null 2>&1
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
        awk '/Rig::round \[/ {x=$1; gsub(",","",x);
             printf "%s %.0f Ir/request\n", ($3 ~ /Server/ ? "server" : "client"), x/8000}'
    rm -f "$out"
    ;;
*)
    echo "usage: bench/parse_counts.sh ir|floor|conn [BIN]" >&2
    exit 2
    ;;
esac
