#!/usr/bin/env bash
# WebSocket echo and memory comparisons for BENCHMARKS.md, in one command:
#
#   bench/ws.sh                         # everything: echo + memory
#   bench/ws.sh --part echo             # messages/s through echo servers
#   bench/ws.sh --part memory           # resident memory per idle connection
#   bench/ws.sh --servers wireloom-tokio,tungstenite --sizes 20,16384
#   bench/ws.sh --rounds 1 --duration 1 --mem-conns 1000   # smoke run
#
# Echo part: builds bench/ in release, then for each round starts every
# contestant in turn (the order rotates each round), pinned to core 0 with
# `taskset -c 0`, and runs the load client bench/src/bin/ws_load.rs pinned
# to core 1 for each message size (--sizes, bytes; default 20 and 16384):
# CONNS (100) connections, one binary message in flight per connection
# (send one masked frame, wait for the whole echo, send the next), a
# WARMUP s warm-up then DURATION s counted. The client offers no
# extension, so every contestant runs uncompressed. Every contestant runs
# a current-thread tokio runtime (one thread), as the HTTP contestants of
# bench/load.sh do, and sets TCP_NODELAY on its connections:
#   wireloom-tokio  bench/src/bin/wireloom_tokio_ws.rs: wireloom-tokio's
#                   server, a `GET /` WebSocket route that echoes (skipped
#                   with a note while the binary is not built).
#   tungstenite     bench/src/bin/tungstenite_ws.rs: tokio-tungstenite,
#                   `accept_async` with its default configuration.
#   fastwebsockets  bench/src/bin/fastwebsockets_ws.rs: fastwebsockets'
#                   echo example (hyper upgrade, FragmentCollector).
# Prints the per-run figures, then Markdown tables of medians (messages/s
# and server CPU microseconds per message) and wireloom's ratios to each
# peer.
#
# Memory part: for each contestant, ws_load idle (pinned to core 1) opens
# MEM_CONNS (10000) WebSocket connections one after the other, each through
# the opening handshake, and keeps them open and idle; the server's VmRSS
# (/proc/PID/status) is read before the first connection and once all are
# open. Reported: (after - before) / open connections, and after / open.
# The open-file limit is raised to its hard limit.
#
# Adding a contestant: one srv_NAME function, one line in label_of and
# needs. Everything listens on 127.0.0.1 on ephemeral ports; every process
# started here is stopped on exit (trap), and every wait is bounded.
set -euo pipefail

ROUNDS=3
DURATION=5
WARMUP=1
CONNS=100
PART=all
SERVER_CPU=0
LOAD_CPU=1
SERVERS=wireloom-tokio,tungstenite,fastwebsockets
SIZES=20,16384
MEM_CONNS=10000

usage() {
    awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
    echo "options: --rounds N --duration SECS --warmup SECS --conns N --part echo|memory|all"
    echo "         --servers LIST (default $SERVERS) --sizes LIST (default $SIZES)"
    echo "         --mem-conns N (idle connections in the memory part, default $MEM_CONNS)"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --part) PART=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --sizes) SIZES=$2; shift 2 ;;
        --mem-conns) MEM_CONNS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "ws.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$PART" in
    echo|memory|all) ;;
    *) echo "ws.sh: --part echo|memory|all" >&2; exit 2 ;;
esac
IFS=, read -r -a CONTESTANTS <<<"$SERVERS"
IFS=, read -r -a SIZE_LIST <<<"$SIZES"

HERE=$(cd "$(dirname "$0")" && pwd)
for tool in taskset python3; do
    command -v "$tool" >/dev/null || { echo "ws.sh: $tool is required" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/wireloom-ws.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building bench/ (release)" >&2
(cd "$HERE" && cargo build --release --bins --quiet)
BIN="$HERE/target/release"

pin() { exec taskset -c "$SERVER_CPU" "$@"; }
srv_wireloom_tokio() { pin "$BIN/wireloom_tokio_ws" --addr "$1"; }
srv_tungstenite() { pin "$BIN/tungstenite_ws" --addr "$1"; }
srv_fastwebsockets() { pin "$BIN/fastwebsockets_ws" --addr "$1"; }

label_of() {
    case "$1" in
        wireloom-tokio) echo "wireloom-tokio" ;;
        tungstenite) echo "tokio-tungstenite" ;;
        fastwebsockets) echo "fastwebsockets" ;;
        *) echo "$1" ;;
    esac
}
needs() {
    case "$1" in
        wireloom-tokio) echo "$BIN/wireloom_tokio_ws" ;;
        tungstenite) echo "$BIN/tungstenite_ws" ;;
        fastwebsockets) echo "$BIN/fastwebsockets_ws" ;;
        *) echo "" ;;
    esac
}

AVAILABLE=()
for name in "${CONTESTANTS[@]}"; do
    if ! declare -F "srv_${name//-/_}" >/dev/null; then
        echo "ws.sh: unknown contestant $name" >&2
        exit 2
    fi
    bin=$(needs "$name")
    if [ -n "$bin" ] && [ ! -x "$bin" ]; then
        echo "ws.sh: note: skipping $name ($bin is not built yet)" >&2
        continue
    fi
    AVAILABLE+=("$name")
done

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME: starts contestant NAME pinned to SERVER_CPU; sets SERVER_PID
# and ADDR; waits (at most 30 s) until it accepts connections.
start() {
    local name=$1 port i
    port=$(free_port)
    ADDR="127.0.0.1:$port"
    "srv_${name//-/_}" "$ADDR" >"$TMP/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 300); do
        if python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
            "$port" 2>/dev/null; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "ws.sh: $name never came up: $(cat "$TMP/$name.log")" >&2
    return 1
}

stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}
median() {
    sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
title_of() {
    case "$1" in
        20) echo "20 B binary" ;;
        16384) echo "16 KiB binary" ;;
        *) echo "$1 B binary" ;;
    esac
}

# run_load SIZE: prints "MSGS_PER_SEC ERRORS CPU_US_PER_MESSAGE" (the
# server's user + system CPU time over the counted part, whole warm-up
# included in neither).
run_load() {
    local out c0 c1 n rate errs cpu
    c0=$(cpu_ticks "$SERVER_PID")
    out=$(timeout "$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN {printf "%d", d + w + 60}')" taskset -c "$LOAD_CPU" "$BIN/ws_load" echo \
        --addr "$ADDR" --conns "$CONNS" --size "$1" --duration "$DURATION" --warmup "$WARMUP" 2>&1) || {
        echo "ws.sh: ws_load failed: $out" >&2
        echo "0 1 0"
        return 0
    }
    c1=$(cpu_ticks "$SERVER_PID")
    n=$(awk '/^messages/ {print $2}' <<<"$out")
    rate=$(awk '/^messages/ {print $6}' <<<"$out")
    errs=$(awk '/^messages/ {print $8}' <<<"$out")
    # The CPU window includes the connection set-up and the warm-up: scale
    # by the messages of the whole run (rate x (warm-up + duration)).
    cpu=$(awk -v a="$c0" -v b="$c1" -v r="${rate:-0}" -v t="$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN {print d + w}')" -v hz="$CLK_TCK" \
        'BEGIN {if (r > 0) printf "%.2f", (b - a) * 1e6 / hz / (r * t); else print 0}')
    echo "${rate:-0} ${errs:-1} $cpu"
}

# table FIELD FORMAT: one row per size, one column per contestant, then
# wireloom-tokio over each peer.
table() {
    local field=$1 fmt=$2 name size line v wv rv
    local peers=()
    for name in "${AVAILABLE[@]}"; do
        case "$name" in wireloom*) ;; *) peers+=("$name") ;; esac
    done
    line="| message |"
    for name in "${AVAILABLE[@]}"; do line+=" $(label_of "$name") |"; done
    for name in "${AVAILABLE[@]}"; do
        case "$name" in wireloom*)
            for p in ${peers[@]+"${peers[@]}"}; do line+=" $name/$p |"; done ;;
        esac
    done
    echo "$line"
    echo "$line" | awk -F'|' '{s="|---|"; for (i = 3; i < NF; i++) s = s "---:|"; print s}'
    for size in "${SIZE_LIST[@]}"; do
        line="| $(title_of "$size") |"
        for name in "${AVAILABLE[@]}"; do
            v=$(awk -v n="$name" -v s="$size" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
            line+=" $(awk -v v="$v" -v f="$fmt" 'BEGIN {printf f, v}') |"
        done
        for name in "${AVAILABLE[@]}"; do
            case "$name" in wireloom*) ;; *) continue ;; esac
            wv=$(awk -v n="$name" -v s="$size" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
            for p in ${peers[@]+"${peers[@]}"}; do
                rv=$(awk -v n="$p" -v s="$size" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
                line+=" $(awk -v a="$wv" -v b="$rv" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a/b; else print "-"}') |"
            done
        done
        echo "$line"
    done
}

echo_part() {
    echo "== echo: $ROUNDS rounds, $CONNS connections, ${WARMUP}s warm-up + ${DURATION}s," \
        "server on cpu $SERVER_CPU, ws_load on cpu $LOAD_CPU; contestants: ${AVAILABLE[*]};" \
        "sizes: ${SIZE_LIST[*]}" >&2
    : >"$TMP/results"
    local round k i name size res rate errs cpu
    local n=${#AVAILABLE[@]}
    for round in $(seq 1 "$ROUNDS"); do
        for k in $(seq 0 $((n - 1))); do
            i=$(((k + round - 1) % n))
            name=${AVAILABLE[$i]}
            start "$name"
            for size in "${SIZE_LIST[@]}"; do
                res=$(run_load "$size")
                read -r rate errs cpu <<<"$res"
                echo "round $round $name $size B: $rate msgs/s, errors $errs, server CPU $cpu us/message" >&2
                echo "$name $size $res" >>"$TMP/results"
            done
            stop
        done
    done
    echo
    echo "Echo: $(nproc) cores; server pinned to cpu $SERVER_CPU, ws_load pinned to cpu $LOAD_CPU;" \
        "$CONNS connections, one message in flight each, ${DURATION}s after ${WARMUP}s warm-up;" \
        "median of $ROUNDS rounds (messages echoed per second)."
    echo
    table 3 "%.0f"
    echo
    echo "Server CPU time (user + system) per message echoed, in microseconds (median of $ROUNDS" \
        "rounds); ratio > 1: wireloom spends more CPU per message."
    echo
    table 5 "%.2f"
    echo
    echo "Errors over all runs: $(awk '{n+=$4} END {print n+0}' "$TMP/results")"
}

memory_part() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt $((MEM_CONNS + 256)) ]; then
        echo "ws.sh: the open-file hard limit ($hard) is too low for --mem-conns $MEM_CONNS" >&2
        return 1
    fi
    ulimit -n "$hard"
    echo "== memory: $MEM_CONNS idle WebSocket connections per server (ulimit -n $(ulimit -n))" >&2
    : >"$TMP/memory"
    local name before after ready failed first open cpid i
    for name in "${AVAILABLE[@]}"; do
        start "$name"
        sleep 0.5
        before=$(rss_kib "$SERVER_PID")
        rm -f "$TMP/go" "$TMP/client.out"
        taskset -c "$LOAD_CPU" "$BIN/ws_load" idle --addr "$ADDR" --conns "$MEM_CONNS" \
            --go "$TMP/go" >"$TMP/client.out" 2>&1 &
        cpid=$!
        PIDS+=("$cpid")
        for i in $(seq 1 6000); do
            grep -q '^ready' "$TMP/client.out" 2>/dev/null && break
            kill -0 "$cpid" 2>/dev/null || break
            sleep 0.1
        done
        sleep 1
        after=$(rss_kib "$SERVER_PID")
        touch "$TMP/go"
        for i in $(seq 1 600); do
            kill -0 "$cpid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$cpid" 2>/dev/null || true
        wait "$cpid" 2>/dev/null || true
        read -r _ ready failed first < <(grep '^ready' "$TMP/client.out" || echo "ready 0 0 -")
        open=$(awk '/^open/ {print $2}' "$TMP/client.out")
        open=${open:-0}
        echo "memory $name: VmRSS $before KiB -> $after KiB; handshakes $ready, failed $failed" \
            "(first: $first), still open $open" >&2
        echo "$name $before $after $open" >>"$TMP/memory"
        stop
    done
    echo
    echo "Memory: VmRSS of the server before the first connection and with $MEM_CONNS idle" \
        "WebSocket connections open; per connection = (after - before) / open, and after / open."
    echo
    echo "| server | before (KiB) | after (KiB) | open | (after-before)/open (KiB) | after/open (KiB) |"
    echo "|---|---:|---:|---:|---:|---:|"
    while read -r name before after open; do
        awk -v l="$(label_of "$name")" -v b="$before" -v a="$after" -v o="$open" 'BEGIN {
            d = (o > 0) ? sprintf("%.2f", (a - b) / o) : "-"
            t = (o > 0) ? sprintf("%.2f", a / o) : "-"
            printf "| %s | %d | %d | %d | %s | %s |\n", l, b, a, o, d, t
        }'
    done <"$TMP/memory"
}

case "$PART" in
    echo) echo_part ;;
    memory) memory_part ;;
    all) echo_part; memory_part ;;
esac
