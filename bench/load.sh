#!/usr/bin/env bash
# Server, client and memory comparisons for BENCHMARKS.md, in one command:
#
#   bench/load.sh                      # everything: server + client + memory
#   bench/load.sh --part server        # wrk against the servers
#   bench/load.sh --part client        # wireloom clients vs ureq and reqwest
#   bench/load.sh --part memory        # resident memory per idle connection
#   bench/load.sh --servers wireloom,hyper --scenarios plaintext,pipelined
#   bench/load.sh --rounds 1 --duration 1 --client-requests 1000   # smoke run
#   bench/load.sh --part server --servers axum-wireloom,axum-hyper \
#       --scenarios plaintext,json,pipelined   # one axum app, two engines
#
# Server part: builds bench/ in release, then for each round starts every
# contestant in turn (the order rotates each round), pinned to core 0 with
# `taskset -c 0`, and runs wrk pinned to core 1 (`wrk -t1 -cCONNS -dDURATIONs`,
# after a WARMUP s warm-up) for each scenario:
#   plaintext  GET /plaintext, keep-alive, one request at a time per connection
#   pipelined  GET /plaintext, PIPELINE (16) requests per write: a generated
#              wrk Lua script whose request() returns them concatenated.
#              wrk counts every response as one request (its
#              response_complete), so req/s is per HTTP request here too.
#   4k, 1m     a 4 KiB and a 1 MiB file (random bytes)
#   json       GET /json, keep-alive: {"message":"Hello, World!"} through
#              axum::Json (the axum contestants only)
# Contestants (--servers; a missing binary is skipped with a note):
#   wireloom        bench/src/bin/wireloom_server.rs: wireloom-blocking's
#                   server, worker pool of THREADS (default 64 >= CONNS: it is
#                   thread per connection), static files through its mmap
#                   FileCache.
#   wireloom-base   the wireloom_server binary at $WIRELOOM_BASE_BIN (built
#                   from another commit, for before/after comparisons; not in
#                   the default list, skipped when the variable is unset).
#   wireloom-tokio  bench/src/bin/wireloom_tokio_server.rs: wireloom-tokio's
#                   server on a current-thread runtime (--threads 1), static
#                   files through the mmap FileCache (plain TCP: mapped
#                   pieces straight to writev).
#   wireloom-tokio-base  the wireloom_tokio_server binary at
#                   $WIRELOOM_TOKIO_BASE_BIN (another commit's, for before/after
#                   comparisons of the async engine; not in the default list).
#   wireloom-async  bench/src/bin/wireloom_async_server.rs: wireloom-async-std's
#                   server on smol's executor run by one thread
#                   (--executor smol --threads 1), same routes.
#   hyper           bench/src/bin/hyper_server.rs: hyper 1 on a current-thread
#                   tokio runtime with http1 pipeline_flush(true) (the
#                   reference), files read into memory at start-up.
#   hyper-fs        the same with `tokio::fs::read` per request (files only).
#   hyper-noflush   hyper with its default pipeline_flush(false) (not in the
#                   default list).
#   axum-wireloom   bench/src/bin/axum_server.rs --engine wireloom: one axum
#                   Router (/plaintext, /json) served by wireloom-tokio's
#                   `serve` on a current-thread runtime (--threads 1).
#   axum-hyper      the same Router served by `axum::serve` (hyper 1, its
#                   defaults) on a current-thread runtime. The axum pair is
#                   compared with each other only (axum-wireloom/axum-hyper);
#                   neither serves files. Not in the default list.
#   nginx           nginx, 1 process (master_process off), sendfile on,
#                   access_log off, keepalive_requests 1000000; `return 200`
#                   for /plaintext.
# Prints the per-run figures, then Markdown tables of medians and ratios.
#
# Client part: starts hyper_server pinned to core 0 and runs client_bench
# (bench/src/bin/client_bench.rs) pinned to core 1: CLIENT_REQUESTS keep-alive
# GETs of /plaintext per client per round, alternated over CLIENT_ROUNDS
# rounds, in the groups of --client-groups (default all three):
#   blocking          wireloom-blocking vs ureq 3, requests in a row
#   async             wireloom-tokio's Agent vs reqwest, one current-thread
#                     tokio runtime, requests in a row from one task
#   async-concurrent  the same two, the requests shared by CLIENT_CONCURRENCY
#                     (64) tasks on that runtime
#
# Memory part: for each contestant (hyper-fs left out: same as hyper here),
# a Python client pinned to core 1 opens MEM_CONNS (10000) connections one
# after the other, sends one GET /plaintext on each, reads the answer and
# keeps the connection open and idle; the server's VmRSS (/proc/PID/status)
# is read before the first connection and once all are open. Reported:
# (after - before) / open connections, and after / open connections. The
# open-file limit is raised to its hard limit. wireloom-blocking is thread per
# connection: it is started with --threads and --max-connections of
# MEM_CONNS + 16 (its workers exist from start-up, so their stacks count in
# "before"; the after/connection column includes them). With fewer workers it
# would close idle connections to serve waiting ones. Each of its workers
# also wakes every 100 ms (to notice a shutdown), so 10000 idle connections
# keep the server's core busy: expect this part to take minutes for it and
# to load the machine. wireloom-tokio and wireloom-async get
# --max-connections MEM_CONNS + 16 (their default is 10000). The idle
# timeout is raised to MEM_IDLE (600 s) in wireloom-blocking,
# wireloom-tokio, wireloom-async and nginx so no connection closes before
# the count (hyper has no keep-alive idle timeout);
# "open" is the number still open right after the second VmRSS reading.
#
# Adding a contestant: one srv_NAME function (how to start it), one line in
# label_of, and `needs` in it if it is an optional binary.
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
CLIENT_GROUPS=blocking,async,async-concurrent
CLIENT_CONCURRENCY=64
SERVER_CPU=0
LOAD_CPU=1
SERVERS=wireloom,wireloom-tokio,wireloom-async,hyper,hyper-fs,nginx
SCENARIOS=plaintext,pipelined,4k,1m
PIPELINE=16
MEM_CONNS=10000
# Keep-alive idle timeout in the memory part (s), where the server lets us
# set it (wireloom-blocking, nginx): longer than opening every connection.
MEM_IDLE=600
BUILD=1

usage() {
    awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"
    echo "options: --rounds N --duration SECS --warmup SECS --conns N --threads N"
    echo "         --part server|client|memory|all --client-requests N --client-rounds N"
    echo "         --client-groups LIST (default $CLIENT_GROUPS) --client-concurrency N"
    echo "         --servers LIST (default $SERVERS)"
    echo "         --scenarios LIST (default $SCENARIOS)"
    echo "         --pipeline N (requests per write in 'pipelined', default $PIPELINE)"
    echo "         --mem-conns N (idle connections in the memory part, default $MEM_CONNS)"
    echo "         --no-build (use the binaries already in bench/target/release)"
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
        --client-groups) CLIENT_GROUPS=$2; shift 2 ;;
        --client-concurrency) CLIENT_CONCURRENCY=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --pipeline) PIPELINE=$2; shift 2 ;;
        --mem-conns) MEM_CONNS=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "load.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$PART" in
    server|client|memory|all) ;;
    *) echo "load.sh: --part server|client|memory|all" >&2; exit 2 ;;
esac
IFS=, read -r -a CONTESTANTS <<<"$SERVERS"
IFS=, read -r -a SCENARIO_LIST <<<"$SCENARIOS"

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

if [ "$BUILD" = 1 ]; then
    echo "== building bench/ (release)" >&2
    (cd "$HERE" && cargo build --release --bins --quiet)
fi
BIN="$HERE/target/release"

mkdir -p "$TMP/www"
head -c 4096 /dev/urandom >"$TMP/www/4k.bin"
head -c 1048576 /dev/urandom >"$TMP/www/1m.bin"

# ---- contestants -----------------------------------------------------------
# srv_NAME ADDR runs in a background subshell and replaces it (exec) with the
# server listening on ADDR, pinned to SERVER_CPU, so that $! is the server's
# PID. MODE is "load" or "memory" (room for MEM_CONNS idle connections).
MODE=load

pin() { exec taskset -c "$SERVER_CPU" "$@"; }

srv_wireloom() {
    if [ "$MODE" = memory ]; then
        pin "$BIN/wireloom_server" --addr "$1" --root "$TMP/www" \
            --threads $((MEM_CONNS + 16)) --max-connections $((MEM_CONNS + 16)) \
            --idle-timeout "$MEM_IDLE"
    else
        pin "$BIN/wireloom_server" --addr "$1" --root "$TMP/www" --threads "$THREADS"
    fi
}
srv_wireloom_base() {
    if [ "$MODE" = memory ]; then
        pin "$WIRELOOM_BASE_BIN" --addr "$1" --root "$TMP/www" --threads $((MEM_CONNS + 16))
    else
        pin "$WIRELOOM_BASE_BIN" --addr "$1" --root "$TMP/www" --threads "$THREADS"
    fi
}
# The async servers hold any number of idle connections on one thread;
# in the memory part they get room for MEM_CONNS and MEM_IDLE's timeout.
async_mem_args() {
    if [ "$MODE" = memory ]; then
        echo "--max-connections $((MEM_CONNS + 16)) --idle-timeout $MEM_IDLE"
    fi
}
srv_wireloom_tokio() {
    # shellcheck disable=SC2046
    pin "$BIN/wireloom_tokio_server" --addr "$1" --root "$TMP/www" --threads 1 $(async_mem_args)
}
srv_wireloom_tokio_base() {
    # shellcheck disable=SC2046
    pin "$WIRELOOM_TOKIO_BASE_BIN" --addr "$1" --root "$TMP/www" --threads 1 $(async_mem_args)
}
srv_wireloom_async() {
    # smol's executor (async_executor::Executor) run by one thread.
    # shellcheck disable=SC2046
    pin "$BIN/wireloom_async_server" --addr "$1" --root "$TMP/www" --threads 1 \
        --executor smol $(async_mem_args)
}
srv_hyper() {
    pin "$BIN/hyper_server" --addr "$1" --root "$TMP/www" --threads 1 --files memory \
        --pipeline-flush on
}
srv_hyper_fs() {
    pin "$BIN/hyper_server" --addr "$1" --root "$TMP/www" --threads 1 --files fs \
        --pipeline-flush on
}
srv_hyper_noflush() {
    pin "$BIN/hyper_server" --addr "$1" --root "$TMP/www" --threads 1 --files memory \
        --pipeline-flush off
}
srv_axum_wireloom() {
    pin "$BIN/axum_server" --engine wireloom --addr "$1" --threads 1
}
srv_axum_hyper() {
    pin "$BIN/axum_server" --engine hyper --addr "$1" --threads 1
}
srv_nginx() {
    local conns=1024 keepalive=60
    if [ "$MODE" = memory ]; then
        keepalive=$MEM_IDLE
        # Twice the connections held: nginx closes idle keep-alive
        # connections once fewer than 1/16 of its slots are free.
        if [ $((2 * MEM_CONNS + 64)) -gt $conns ]; then conns=$((2 * MEM_CONNS + 64)); fi
    fi
    mkdir -p "$TMP/nginx"
    cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $((conns + 64));
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections $conns; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout ${keepalive}s;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen $1;
        root $TMP/www;
        location = /plaintext {
            default_type "text/plain; charset=utf-8";
            return 200 "Hello, World!";
        }
    }
}
EOF
    pin "$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
}

# label_of NAME: the column title; `needs` NAME: the binary it requires
# when that may not be built yet.
label_of() {
    case "$1" in
        wireloom) echo "wireloom-blocking" ;;
        wireloom-base) echo "wireloom-blocking (base)" ;;
        wireloom-tokio) echo "wireloom-tokio" ;;
        wireloom-tokio-base) echo "wireloom-tokio (base)" ;;
        wireloom-async) echo "wireloom-async-std" ;;
        hyper) echo "hyper (memory)" ;;
        hyper-fs) echo "hyper (tokio::fs)" ;;
        hyper-noflush) echo "hyper (no pipeline_flush)" ;;
        axum-wireloom) echo "axum on wireloom-tokio" ;;
        axum-hyper) echo "axum on hyper (axum::serve)" ;;
        nginx) echo "nginx" ;;
        *) echo "$1" ;;
    esac
}
needs() {
    case "$1" in
        wireloom-base) echo "${WIRELOOM_BASE_BIN:-/nonexistent/WIRELOOM_BASE_BIN}" ;;
        wireloom-tokio) echo "$BIN/wireloom_tokio_server" ;;
        wireloom-tokio-base) echo "${WIRELOOM_TOKIO_BASE_BIN:-/nonexistent/WIRELOOM_TOKIO_BASE_BIN}" ;;
        wireloom-async) echo "$BIN/wireloom_async_server" ;;
        axum-*) echo "$BIN/axum_server" ;;
        *) echo "" ;;
    esac
}

# applies NAME SCENARIO: whether the contestant runs that scenario.
applies() {
    case "$1:$2" in
        # hyper-fs differs from hyper for files only.
        hyper-fs:plaintext | hyper-fs:pipelined | hyper-fs:memory) return 1 ;;
        # The axum app has no files; only it has /json.
        axum-*:4k | axum-*:1m) return 1 ;;
        axum-*:*) return 0 ;;
        *:json) return 1 ;;
        *) return 0 ;;
    esac
}

# The contestants asked for that can run here (unknown names are an error,
# unbuilt optional binaries a note).
AVAILABLE=()
for name in "${CONTESTANTS[@]}"; do
    if ! declare -F "srv_${name//-/_}" >/dev/null; then
        echo "load.sh: unknown contestant $name" >&2
        exit 2
    fi
    bin=$(needs "$name")
    if [ -n "$bin" ] && [ ! -x "$bin" ]; then
        echo "load.sh: note: skipping $name ($bin is not built yet)" >&2
        continue
    fi
    AVAILABLE+=("$name")
done
for scen in "${SCENARIO_LIST[@]}"; do
    case "$scen" in
        plaintext|pipelined|4k|1m|json) ;;
        *) echo "load.sh: unknown scenario $scen (plaintext, pipelined, 4k, 1m, json)" >&2; exit 2 ;;
    esac
done

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL: until it answers 200 (at most 30 s).
wait_ready() {
    local i
    for i in $(seq 1 300); do
        if curl -sf -o /dev/null --max-time 1 "$1"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "load.sh: $1 never came up" >&2
    return 1
}

# start NAME: starts contestant NAME pinned to SERVER_CPU; sets SERVER_PID,
# PORT and BASE (http://127.0.0.1:PORT).
start() {
    local name=$1
    PORT=$(free_port)
    BASE="http://127.0.0.1:$PORT"
    "srv_${name//-/_}" "127.0.0.1:$PORT" >"$TMP/$name.log" 2>&1 &
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

# The pipelined scenario's script: PIPELINE requests in every write.
cat >"$TMP/pipeline.lua" <<EOF
-- Generated by bench/load.sh: $PIPELINE pipelined GET /plaintext per write.
-- wrk counts every response it parses as one request.
init = function(args)
    local r = {}
    for i = 1, $PIPELINE do
        r[i] = wrk.format(nil, "/plaintext")
    end
    req = table.concat(r)
end

request = function()
    return req
end
EOF

path_of() {
    case "$1" in
        plaintext|pipelined) echo /plaintext ;;
        json) echo /json ;;
        4k) echo /4k.bin ;;
        1m) echo /1m.bin ;;
    esac
}
# wrk_script_of SCENARIO: the wrk Lua script, if any.
wrk_script_of() {
    case "$1" in
        pipelined) echo "$TMP/pipeline.lua" ;;
        *) echo "" ;;
    esac
}
title_of() {
    case "$1" in
        plaintext) echo "plaintext (keep-alive)" ;;
        pipelined) echo "plaintext pipelined x$PIPELINE" ;;
        4k) echo "4 KiB file" ;;
        1m) echo "1 MiB file" ;;
        json) echo "JSON (keep-alive)" ;;
        *) echo "$1" ;;
    esac
}

# run_wrk SCENARIO SECS: prints "REQ_PER_SEC ERRORS CPU_US_PER_REQUEST", the
# last being the server's CPU time (user + system, all threads) per request.
# Requests are HTTP requests (responses) in every scenario.
run_wrk() {
    local out rps errs n c0 c1 cpu script args=()
    script=$(wrk_script_of "$1")
    [ -n "$script" ] && args=(-s "$script")
    c0=$(cpu_ticks "$SERVER_PID")
    out=$(timeout $(($2 + 30)) taskset -c "$LOAD_CPU" "$WRK" -t1 -c"$CONNS" -d"$2"s \
        ${args[@]+"${args[@]}"} "$BASE$(path_of "$1")" 2>&1) || {
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

# table FIELD FORMAT: one Markdown row per scenario of the medians of column
# FIELD of $TMP/results (3: req/s, 5: CPU us/request), one column per
# contestant, then each wireloom contestant over hyper and over nginx.
table() {
    local field=$1 fmt=$2 name w r scen line v rv wv
    local wl=() refs=() pairs=() p
    for name in "${AVAILABLE[@]}"; do
        case "$name" in wireloom*) wl+=("$name") ;; hyper|nginx) refs+=("$name") ;; esac
    done
    # The ratio columns: each wireloom server over hyper and nginx, and
    # the axum app on wireloom over the same app on hyper.
    for w in ${wl[@]+"${wl[@]}"}; do
        for r in ${refs[@]+"${refs[@]}"}; do pairs+=("$w/$r"); done
    done
    if [[ " ${AVAILABLE[*]} " == *" axum-wireloom "* && " ${AVAILABLE[*]} " == *" axum-hyper "* ]]; then
        pairs+=("axum-wireloom/axum-hyper")
    fi
    line="| scenario |"
    for name in "${AVAILABLE[@]}"; do line+=" $(label_of "$name") |"; done
    for p in ${pairs[@]+"${pairs[@]}"}; do line+=" $p |"; done
    echo "$line"
    line="|---|"
    for name in "${AVAILABLE[@]}"; do line+="---:|"; done
    for p in ${pairs[@]+"${pairs[@]}"}; do line+="---:|"; done
    echo "$line"
    for scen in "${SCENARIO_LIST[@]}"; do
        line="| $(title_of "$scen") |"
        for name in "${AVAILABLE[@]}"; do
            if applies "$name" "$scen"; then
                v=$(awk -v n="$name" -v s="$scen" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
                line+=" $(awk -v v="$v" -v f="$fmt" 'BEGIN {printf f, v}') |"
            else
                line+=" - |"
            fi
        done
        for p in ${pairs[@]+"${pairs[@]}"}; do
            w=${p%%/*}
            r=${p#*/}
            wv=$(awk -v n="$w" -v s="$scen" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
            rv=$(awk -v n="$r" -v s="$scen" -v f="$field" '$1==n && $2==s {print $f}' "$TMP/results" | median)
            line+=" $(awk -v a="$wv" -v b="$rv" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a/b; else print "-"}') |"
        done
        echo "$line"
    done
}

server_part() {
    echo "== server: $ROUNDS rounds, wrk -t1 -c$CONNS -d${DURATION}s (after ${WARMUP}s warm-up)," \
        "server on cpu $SERVER_CPU, wrk on cpu $LOAD_CPU;" \
        "contestants: ${AVAILABLE[*]}; scenarios: ${SCENARIO_LIST[*]}" >&2
    : >"$TMP/results"
    local round k i name scen res rps errs cpu any
    local n=${#AVAILABLE[@]}
    MODE=load
    for round in $(seq 1 "$ROUNDS"); do
        for k in $(seq 0 $((n - 1))); do
            i=$(((k + round - 1) % n))
            name=${AVAILABLE[$i]}
            any=0
            for scen in "${SCENARIO_LIST[@]}"; do
                if applies "$name" "$scen"; then any=1; fi
            done
            [ "$any" = 1 ] || continue
            start "$name"
            for scen in "${SCENARIO_LIST[@]}"; do
                applies "$name" "$scen" || continue
                run_wrk "$scen" "$WARMUP" >/dev/null
                res=$(run_wrk "$scen" "$DURATION")
                read -r rps errs cpu <<<"$res"
                echo "round $round $name $scen $rps req/s, errors $errs, server CPU $cpu us/request" >&2
                echo "$name $scen $res" >>"$TMP/results"
            done
            stop
        done
    done

    echo
    echo "Server: $(nproc) cores; server pinned to cpu $SERVER_CPU, wrk pinned to cpu $LOAD_CPU;" \
        "wrk -t1 -c$CONNS -d${DURATION}s; median of $ROUNDS rounds (requests/s; with pipelining," \
        "every HTTP request counts, $PIPELINE per write)."
    echo
    table 3 "%.0f"
    echo
    echo "Server CPU time (user + system, all threads, from /proc/PID/stat) per request, in"\
        "microseconds: median of $ROUNDS rounds; less sensitive than requests/s to other load on the"\
        "server's core. Ratio > 1: wireloom spends more CPU per request."
    echo
    table 5 "%.1f"
    errs=$(awk '{n+=$4} END {print n+0}' "$TMP/results")
    echo
    echo "Errors (non-2xx responses + socket errors) over all runs: $errs"
}

client_part() {
    echo "== client: $CLIENT_REQUESTS GETs x $CLIENT_ROUNDS rounds ($CLIENT_GROUPS);" \
        "hyper_server on cpu $SERVER_CPU, client_bench on cpu $LOAD_CPU" >&2
    MODE=load
    start hyper
    echo
    timeout 600 taskset -c "$LOAD_CPU" "$BIN/client_bench" --url "$BASE/plaintext" \
        --requests "$CLIENT_REQUESTS" --rounds "$CLIENT_ROUNDS" \
        --groups "$CLIENT_GROUPS" --concurrency "$CLIENT_CONCURRENCY"
    stop
}

# The memory part's client: opens N connections one after the other, one
# GET /plaintext on each, keeps them; prints "ready OPEN REFUSED FAILED",
# waits for the file GO, then prints "open K" (those the server has not
# closed meanwhile) and exits.
cat >"$TMP/idle_client.py" <<'EOF'
import os, socket, sys, time

host, port, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
req = b"GET /plaintext HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (host.encode(), port)
socks, refused, failed, first_error = [], 0, 0, None
for _ in range(n):
    s = None
    try:
        s = socket.create_connection((host, port), timeout=30)
        s.sendall(req)
        buf = b""
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                length = 0
                for line in buf[:end].split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                if len(buf) >= end + 4 + length:
                    break
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before a complete response")
            buf += chunk
        if buf.startswith(b"HTTP/1.1 200"):
            socks.append(s)
        else:
            refused += 1
            s.close()
    except OSError as e:
        failed += 1
        first_error = first_error or repr(e)
        if s is not None:
            s.close()
print("ready %d %d %d %s" % (len(socks), refused, failed, first_error or ""), flush=True)
deadline = time.monotonic() + 600
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
still = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(1, socket.MSG_PEEK) == b"":
            continue  # closed by the server
    except BlockingIOError:
        pass
    except OSError:
        continue
    still += 1
print("open %d" % still, flush=True)
EOF

rss_kib() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

memory_part() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt $((MEM_CONNS + 256)) ]; then
        echo "load.sh: the open-file hard limit ($hard) is too low for --mem-conns $MEM_CONNS" >&2
        return 1
    fi
    ulimit -n "$hard"
    echo "== memory: $MEM_CONNS idle keep-alive connections per server (ulimit -n $(ulimit -n));" \
        "server on cpu $SERVER_CPU, client on cpu $LOAD_CPU" >&2
    : >"$TMP/memory"
    local name before after ready open refused failed first cpid i
    MODE=memory
    for name in "${AVAILABLE[@]}"; do
        applies "$name" memory || continue
        start "$name"
        sleep 0.5
        before=$(rss_kib "$SERVER_PID")
        rm -f "$TMP/go" "$TMP/client.out"
        taskset -c "$LOAD_CPU" python3 "$TMP/idle_client.py" 127.0.0.1 "$PORT" "$MEM_CONNS" \
            "$TMP/go" >"$TMP/client.out" 2>&1 &
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
        read -r _ ready refused failed first < <(grep '^ready' "$TMP/client.out" || echo "ready 0 0 0")
        open=$(awk '/^open/ {print $2}' "$TMP/client.out")
        open=${open:-0}
        echo "memory $name: VmRSS $before KiB -> $after KiB; connections answered $ready," \
            "refused $refused, failed $failed${first:+ (first: $first)}, still open $open" >&2
        echo "$name $before $after $ready $refused $failed $open" >>"$TMP/memory"
        stop
    done

    echo
    echo "Memory: VmRSS of the server (/proc/PID/status) before the first connection and with"\
        "$MEM_CONNS idle keep-alive connections open (each answered one GET /plaintext);"\
        "per connection = (after - before) / open, and after / open (fixed costs included)."\
        "wireloom-blocking runs --threads/--max-connections $((MEM_CONNS + 16)) (thread per"\
        "connection; its workers exist before the first connection); wireloom-tokio and"\
        "wireloom-async run --max-connections $((MEM_CONNS + 16)) --idle-timeout $MEM_IDLE."
    echo
    echo "| server | before (KiB) | after (KiB) | open | (after-before)/open (KiB) | after/open (KiB) |"
    echo "|---|---:|---:|---:|---:|---:|"
    while read -r name before after ready refused failed open; do
        awk -v l="$(label_of "$name")" -v b="$before" -v a="$after" -v o="$open" 'BEGIN {
            d = (o > 0) ? sprintf("%.1f", (a - b) / o) : "-"
            t = (o > 0) ? sprintf("%.1f", a / o) : "-"
            printf "| %s | %d | %d | %d | %s | %s |\n", l, b, a, o, d, t
        }'
    done <"$TMP/memory"
}

case "$PART" in
    server) server_part ;;
    client) client_part ;;
    memory) memory_part ;;
    all) server_part; client_part; memory_part ;;
esac
