#!/usr/bin/env bash
# The reverse proxy figure for BENCHMARKS.md: wrk through wireloom's `proxy`
# (examples/proxy) against wrk through nginx as a reverse proxy, both in
# front of the same upstream.
#
#   bench/proxy.sh                       # 5 rounds of 5 s, 64 connections
#   bench/proxy.sh --rounds 1 --duration 1   # smoke run
#
# Upstream: nginx, one process, `return 200 "hello"` (keepalive_requests
#   1000000, access_log off), pinned to core 1: it SHARES core 1 with wrk,
#   the same for both contestants.
# Contestants, each pinned alone to core 0, one process / one thread:
#   wireloom   target/release/proxy --threads 1 (a current-thread tokio
#              runtime), upstream pool of 32 idle connections.
#   nginx      worker_processes 1, master_process off, access_log off,
#              `upstream { server ...; keepalive 32; }`, `proxy_pass`,
#              `proxy_http_version 1.1; proxy_set_header Connection "";`
# Load: wrk -t1 -cCONNS -dDURATIONs GET / (keep-alive) pinned to core 1,
#   after a WARMUP s warm-up; the contestants alternate, the order rotating
#   each round. Prints each run, then the medians and the ratio
#   wireloom / nginx: requests/s, and CPU time of the contestant per
#   request (utime + stime from /proc/PID/stat over the measured run,
#   divided by wrk's request count), which other load on the machine
#   disturbs much less than requests/s.
set -euo pipefail

ROUNDS=5
DURATION=5
WARMUP=1
CONNS=64
SERVER_CPU=0
LOAD_CPU=1

while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) echo "proxy.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WRK=${WRK:-/usr/bin/wrk}
NGINX=${NGINX:-/usr/sbin/nginx}
for tool in "$WRK" "$NGINX" taskset curl; do
    command -v "$tool" >/dev/null || { echo "proxy.sh: $tool is required" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/wireloom-proxy-bench.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    echo "proxy.sh: nothing answers on $1" >&2
    exit 1
}

(cd "$ROOT" && cargo build --release -q -p wireloom-proxy)
PROXY="$ROOT/target/release/proxy"

nginx_conf() { # DIR BODY
    mkdir -p "$1"
    cat >"$1/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    keepalive_requests 1000000;
$2
}
CONF
}

UP_PORT=$(free_port)
nginx_conf "$TMP/upstream" "    server { listen 127.0.0.1:$UP_PORT; location / { return 200 \"hello\"; } }"
taskset -c "$LOAD_CPU" "$NGINX" -c "$TMP/upstream/nginx.conf" -p "$TMP/upstream" 2>/dev/null &
PIDS+=($!)
wait_port "$UP_PORT"

start() { # NAME PORT
    case "$1" in
        wireloom)
            taskset -c "$SERVER_CPU" "$PROXY" --listen "127.0.0.1:$2" \
                --upstream "127.0.0.1:$UP_PORT" --threads 1 >/dev/null 2>&1 &
            ;;
        nginx)
            nginx_conf "$TMP/proxy-$2" "    upstream up { server 127.0.0.1:$UP_PORT; keepalive 32; }
    server {
        listen 127.0.0.1:$2;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
            taskset -c "$SERVER_CPU" "$NGINX" -c "$TMP/proxy-$2/nginx.conf" -p "$TMP/proxy-$2" 2>/dev/null &
            ;;
    esac
    CUR=$!
    wait_port "$2"
}

HZ=$(getconf CLK_TCK)
# utime + stime of PID, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

RESULTS="$TMP/results"
: >"$RESULTS"
names=(wireloom nginx)
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 0 ]; then order=(nginx wireloom); else order=(wireloom nginx); fi
    for name in "${order[@]}"; do
        port=$(free_port)
        start "$name" "$port"
        taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$WARMUP"s "http://127.0.0.1:$port/" >/dev/null
        t0=$(cpu_ticks "$CUR")
        out=$(taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$DURATION"s "http://127.0.0.1:$port/")
        t1=$(cpu_ticks "$CUR")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        reqs=$(awk '/requests in/ {print $1}' <<<"$out")
        us=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.2f", d / hz * 1e6 / n}')
        errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
        echo "round $round $name: $rps req/s, $us CPU us/request $errs"
        echo "$name $rps $us" >>"$RESULTS"
        kill "$CUR"; wait "$CUR" 2>/dev/null || true
    done
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
w=$(awk '$1=="wireloom" {print $2}' "$RESULTS" | median)
n=$(awk '$1=="nginx" {print $2}' "$RESULTS" | median)
wu=$(awk '$1=="wireloom" {print $3}' "$RESULTS" | median)
nu=$(awk '$1=="nginx" {print $3}' "$RESULTS" | median)
echo
echo "| proxy | req/s (median of $ROUNDS) | vs nginx | CPU us/request (median) | nginx / it |"
echo "|---|---:|---:|---:|---:|"
printf '| wireloom proxy | %.0f | %.2fx | %.2f | %.2fx |\n' "$w" "$(awk -v a="$w" -v b="$n" 'BEGIN {print a/b}')" \
    "$wu" "$(awk -v a="$nu" -v b="$wu" 'BEGIN {print a/b}')"
printf '| nginx proxy_pass | %.0f | 1.00x | %.2f | 1.00x |\n' "$n" "$nu"
