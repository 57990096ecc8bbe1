#!/usr/bin/env bash
# Server and client load comparisons for BENCHMARKS.md, in one command:
#
#   bench/load.sh                      # everything: ~4 min with the defaults
#   bench/load.sh --part server        # wrk against wireloom / hyper / nginx
#   bench/load.sh --part client        # wireloom client vs ureq
#   bench/load.sh --rounds 1 --duration 1 --client-requests 1000   # smoke run
#
# Server part: builds bench/ in release, then for each round starts every
# contestant in turn (the order rotates each round), pinned to core 0 with
# `taskset -c 0`, and runs wrk pinned to core 1 (`wrk -t1 -cCONNS -dDURATIONs`,
# after a 1 s warm-up) for each scenario: /plaintext keep-alive, a 4 KiB file
# and a 1 MiB file. Contestants:
#   wireloom  bench/src/bin/wireloom_server.rs: wireloom-blocking's server,
#             worker pool of THREADS (default 64 >= CONNS: it is thread per
#             connection), static files through its mmap FileCache.
#   hyper     bench/src/bin/hyper_server.rs: hyper 1 on a current-thread tokio
#             runtime, files read into memory at start-up (hyper's best case).
#   hyper-fs  the same with `tokio::fs::read` per request (static files only).
#   nginx     nginx, 1 process (master_process off), sendfile on, access_log
#             off, keepalive_requests 1000000; `return 200` for /plaintext.
# Prints the per-run figures, then a Markdown table of medians and ratios.
#
# Client part: starts hyper_server pinned to core 0 and runs client_bench
# (bench/src/bin/client_bench.rs) pinned to core 1: CLIENT_REQUESTS keep-alive
# GETs of /plaintext per client per round, wireloom-blocking vs ureq 3,
# alternated over CLIENT_ROUNDS rounds.
#
# Everything listens on 127.0.0.1 on ephemeral ports; every process started
# here is stopped on exit (trap), and every wait is bounded.
set -euo pipefail

ROUNDS=3
DURATION=5
WARMUP=1
CONNS=32
THREADS=64
PART=all
CLIENT_REQUESTS=10000
CLIENT_ROUNDS=5
SERVER_CPU=0
LOAD_CPU=1

usage() {
    sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --rounds N --duration SECS --warmup SECS --conns N --threads N"
    echo "         --part server|client|all --client-requests N --client-rounds N"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --part) PART=$2; shift 2 ;;
        --client-requests) CLIENT_REQUESTS=$2; shift 2 ;;
        --client-rounds) CLIENT_ROUNDS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "load.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "$0")" && pwd)
WRK=${WRK:-/usr/bin/wrk}
NGINX=${NGINX:-/usr/sbin/nginx}
for tool in "$WRK" "$NGINX" taskset python3 curl; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool is required" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/wireloom-load.XXXXXX)
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

mkdir -p "$TMP/www"
head -c 4096 /dev/urandom >"$TMP/www/4k.bin"
head -c 1048576 /dev/urandom >"$TMP/www/1m.bin"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL: until it answers 200 (at most 10 s).
wait_ready() {
    local i
    for i in $(seq 1 100); do
        if curl -sf -o /dev/null --max-time 1 "$1"; then return 0; fi
        sleep 0.1
    done
    echo "load.sh: $1 never came up" >&2
    return 1
}

# start NAME: starts contestant NAME pinned to SERVER_CPU; sets SERVER_PID
# and BASE (http://127.0.0.1:PORT).
start() {
    local name=$1 port
    port=$(free_port)
    BASE="http://127.0.0.1:$port"
    case "$name" in
        wireloom)
            taskset -c "$SERVER_CPU" "$BIN/wireloom_server" --addr "127.0.0.1:$port" \
                --root "$TMP/www" --threads "$THREADS" >"$TMP/$name.log" 2>&1 &
            ;;
        hyper)
            taskset -c "$SERVER_CPU" "$BIN/hyper_server" --addr "127.0.0.1:$port" \
                --root "$TMP/www" --threads 1 --files memory >"$TMP/$name.log" 2>&1 &
            ;;
        hyper-fs)
            taskset -c "$SERVER_CPU" "$BIN/hyper_server" --addr "127.0.0.1:$port" \
                --root "$TMP/www" --threads 1 --files fs >"$TMP/$name.log" 2>&1 &
            ;;
        nginx)
            mkdir -p "$TMP/nginx"
            cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        root $TMP/www;
        location = /plaintext {
            default_type "text/plain; charset=utf-8";
            return 200 "Hello, World!";
        }
    }
}
EOF
            taskset -c "$SERVER_CPU" "$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" \
                -c "$TMP/nginx/nginx.conf" >"$TMP/$name.log" 2>&1 &
            ;;
        *) echo "load.sh: unknown contestant $name" >&2; return 1 ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_ready "$BASE/plaintext"
}

stop() {
    kill "$SERVER_PID" 2>/dev/null || true
    # Bounded: escalate after 5 s.
    local i
    for i in $(seq 1 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID: user + system time of the whole process so far, in ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

# run_wrk URL SECS: prints "REQ_PER_SEC ERRORS CPU_US_PER_REQUEST", the last
# being the server's CPU time (user + system, all threads) per request.
run_wrk() {
    local out rps errs n c0 c1 cpu
    c0=$(cpu_ticks "$SERVER_PID")
    out=$(timeout $(($2 + 30)) taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$2"s "$1" 2>&1) || {
        echo "load.sh: wrk failed on $1: $out" >&2
        echo "0 1 0"
        return 0
    }
    c1=$(cpu_ticks "$SERVER_PID")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    n=$(awk '/ requests in / {print $1}' <<<"$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ {n+=$NF} /Socket errors:/ {gsub(",",""); n+=$4+$6+$8+$10} END {print n+0}' <<<"$out")
    cpu=$(awk -v a="$c0" -v b="$c1" -v n="${n:-0}" -v hz="$CLK_TCK" 'BEGIN {if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print 0}')
    echo "${rps:-0} $errs $cpu"
}

median() {
    sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

SCENARIOS=(plaintext 4k 1m)
path_of() {
    case "$1" in plaintext) echo /plaintext ;; 4k) echo /4k.bin ;; 1m) echo /1m.bin ;; esac
}
CONTESTANTS=(wireloom hyper hyper-fs nginx)

server_part() {
    echo "== server: $ROUNDS rounds, wrk -t1 -c$CONNS -d${DURATION}s (after ${WARMUP}s warm-up)," \
        "server on cpu $SERVER_CPU, wrk on cpu $LOAD_CPU" >&2
    : >"$TMP/results"
    local round k i name scen res rps errs cpu
    for round in $(seq 1 "$ROUNDS"); do
        local n=${#CONTESTANTS[@]}
        for k in $(seq 0 $((n - 1))); do
            i=$(((k + round - 1) % n))
            name=${CONTESTANTS[$i]}
            start "$name"
            for scen in "${SCENARIOS[@]}"; do
                # hyper-fs differs from hyper for files only.
                if [ "$name" = hyper-fs ] && [ "$scen" = plaintext ]; then continue; fi
                run_wrk "$BASE$(path_of "$scen")" "$WARMUP" >/dev/null
                res=$(run_wrk "$BASE$(path_of "$scen")" "$DURATION")
                read -r rps errs cpu <<<"$res"
                echo "round $round $name $scen $rps req/s, errors $errs, server CPU $cpu us/request" >&2
                echo "$name $scen $res" >>"$TMP/results"
            done
            stop
        done
    done

    echo
    echo "Server: $(nproc) cores; server pinned to cpu $SERVER_CPU, wrk pinned to cpu $LOAD_CPU;" \
        "wrk -t1 -c$CONNS -d${DURATION}s; median of $ROUNDS rounds (requests/s)."
    echo
    echo "| scenario | wireloom-blocking | hyper (memory) | hyper (tokio::fs) | nginx | wireloom/hyper | wireloom/nginx |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local w h hf x errs
    for scen in "${SCENARIOS[@]}"; do
        w=$(awk -v s="$scen" '$1=="wireloom" && $2==s {print $3}' "$TMP/results" | median)
        h=$(awk -v s="$scen" '$1=="hyper" && $2==s {print $3}' "$TMP/results" | median)
        hf=$(awk -v s="$scen" '$1=="hyper-fs" && $2==s {print $3}' "$TMP/results" | median)
        x=$(awk -v s="$scen" '$1=="nginx" && $2==s {print $3}' "$TMP/results" | median)
        [ "$scen" = plaintext ] && hf="-"
        awk -v s="$scen" -v w="$w" -v h="$h" -v hf="$hf" -v x="$x" 'BEGIN {
            name = (s=="plaintext") ? "plaintext (keep-alive)" : (s=="4k" ? "4 KiB file" : "1 MiB file")
            rh = (h > 0) ? sprintf("%.2f", w/h) : "-"
            rx = (x > 0) ? sprintf("%.2f", w/x) : "-"
            hfs = (hf == "-") ? "-" : sprintf("%.0f", hf)
            printf "| %s | %.0f | %.0f | %s | %.0f | %s | %s |\n", name, w, h, hfs, x, rh, rx
        }'
    done
    echo
    echo "Server CPU time (user + system, all threads, from /proc/PID/stat) per request, in"\
        "microseconds: median of $ROUNDS rounds; less sensitive than requests/s to other load on the"\
        "server's core. Ratio > 1: wireloom spends more CPU per request."
    echo
    echo "| scenario | wireloom-blocking | hyper (memory) | hyper (tokio::fs) | nginx | wireloom/hyper | wireloom/nginx |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for scen in "${SCENARIOS[@]}"; do
        w=$(awk -v s="$scen" '$1=="wireloom" && $2==s {print $5}' "$TMP/results" | median)
        h=$(awk -v s="$scen" '$1=="hyper" && $2==s {print $5}' "$TMP/results" | median)
        hf=$(awk -v s="$scen" '$1=="hyper-fs" && $2==s {print $5}' "$TMP/results" | median)
        x=$(awk -v s="$scen" '$1=="nginx" && $2==s {print $5}' "$TMP/results" | median)
        [ "$scen" = plaintext ] && hf="-"
        awk -v s="$scen" -v w="$w" -v h="$h" -v hf="$hf" -v x="$x" 'BEGIN {
            name = (s=="plaintext") ? "plaintext (keep-alive)" : (s=="4k" ? "4 KiB file" : "1 MiB file")
            rh = (h > 0) ? sprintf("%.2f", w/h) : "-"
            rx = (x > 0) ? sprintf("%.2f", w/x) : "-"
            hfs = (hf == "-") ? "-" : sprintf("%.1f", hf)
            printf "| %s | %.1f | %.1f | %s | %.1f | %s | %s |\n", name, w, h, hfs, x, rh, rx
        }'
    done
    errs=$(awk '{n+=$4} END {print n+0}' "$TMP/results")
    echo
    echo "Errors (non-2xx responses + socket errors) over all runs: $errs"
}

client_part() {
    echo "== client: $CLIENT_REQUESTS GETs x $CLIENT_ROUNDS rounds; hyper_server on cpu $SERVER_CPU," \
        "client_bench on cpu $LOAD_CPU" >&2
    start hyper
    echo
    timeout 600 taskset -c "$LOAD_CPU" "$BIN/client_bench" --url "$BASE/plaintext" \
        --requests "$CLIENT_REQUESTS" --rounds "$CLIENT_ROUNDS"
    stop
}

case "$PART" in
    server) server_part ;;
    client) client_part ;;
    all) server_part; client_part ;;
    *) echo "load.sh: --part server|client|all" >&2; exit 2 ;;
esac
