#!/usr/bin/env bash
# Messages/s through mail-relay (accept + spool + deliver) for small
# messages, with Postfix's smtp-source as the sender and smtp-sink as the
# smarthost, with and without fsync; and the fsync cost per message.
#
#   examples/mail-relay/bench.sh [MESSAGES] [ROUNDS] [SESSIONS]
#
# Defaults: 2000 messages of 1 KiB, 3 rounds alternating the two modes,
# 4 parallel sender sessions. With PIN=1 the relay runs on core 0,
# smtp-source and smtp-sink on core 1 (on a machine shared with other
# work, pinning starves the relay; default off). Prints each run (with the
# count of retried deliveries from the relay's log) and the medians. Not a test: the
# numbers depend on the machine and its disk (the spool is under $TMPDIR).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2000}
ROUNDS=${2:-3}
SESSIONS=${3:-4}
SIZE=1024

cargo build -q --release -p wireloom-mail-relay
RELAY=target/release/mail-relay
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
[ -x "$SINK" ] && [ -x "$SOURCE" ] || { echo "needs postfix (smtp-sink, smtp-source)"; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not open"; exit 1; }

SINK_PORT=$(free_port)
CORE0=() CORE1=()
if [ "${PIN:-0}" = 1 ]; then CORE0=(taskset -c 0) CORE1=(taskset -c 1); fi
AS_NOBODY=()
[ "$(id -u)" = 0 ] && AS_NOBODY=(-u nobody)
"${CORE1[@]}" "$SINK" "${AS_NOBODY[@]}" 127.0.0.1:"$SINK_PORT" 1000 &
PIDS+=($!)
wait_port "$SINK_PORT"

# One run: prints "mode accept_s total_s msgs_per_s fsync_calls fsync_ms".
run_once() {
  local mode=$1 flag=()
  [ "$mode" = nofsync ] && flag=(--no-fsync)
  local spool="$WORK/spool-$mode-$RANDOM" port
  port=$(free_port)
  "${CORE0[@]}" "$RELAY" --listen 127.0.0.1:"$port" --spool "$spool" \
    --smarthost 127.0.0.1:"$SINK_PORT" "${flag[@]}" >"$WORK/out" 2>"$WORK/log" &
  local relay=$!
  wait_port "$port"
  local t0 t1 t2
  t0=$(date +%s.%N)
  "${CORE1[@]}" "$SOURCE" -s "$SESSIONS" -m "$N" -l "$SIZE" -f a@x.test -t b@y.test 127.0.0.1:"$port"
  t1=$(date +%s.%N)
  # Delivered when the spool's msg/ directory is empty (bounded: 300 s).
  for _ in $(seq 30000); do
    [ -z "$(ls -A "$spool/msg")" ] && break
    sleep 0.01
  done
  t2=$(date +%s.%N)
  kill -TERM "$relay"; wait "$relay" || true
  local fs
  fs=$(grep '^fsync' "$WORK/out")   # "fsync calls C total_ms T mean_us M"
  local retried
  retried=$(grep -c 'unavailable\|lost\|failed' "$WORK/log" || true)
  python3 - "$mode" "$t0" "$t1" "$t2" "$N" "$fs" "$retried" <<'PY'
import sys
mode, t0, t1, t2, n, fs, retried = sys.argv[1], *map(float, sys.argv[2:5]), int(sys.argv[5]), sys.argv[6].split(), sys.argv[7]
calls, total_ms = int(fs[2]), float(fs[4])
print(f"{mode:8} accept {t1-t0:7.3f}s  total {t2-t0:7.3f}s  {n/(t2-t0):8.1f} msg/s  "
      f"fsync {calls} calls {total_ms:.1f} ms = {calls/n:.1f}/msg {total_ms*1000/n:.1f} us/msg  retried {retried}")
PY
  rm -rf "$spool"
}

echo "mail-relay bench: $N messages of $SIZE octets, $SESSIONS sessions, $ROUNDS rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  run_once fsync
  run_once nofsync
done | tee "$WORK/results"
python3 - "$WORK/results" <<'PY'
import re, statistics, sys
rate = {"fsync": [], "nofsync": []}; us = []
for line in open(sys.argv[1]):
    mode = line.split()[0]
    rate[mode].append(float(re.search(r"([\d.]+) msg/s", line).group(1)))
    if mode == "fsync":
        us.append(float(re.search(r"([\d.]+) us/msg", line).group(1)))
f, n = statistics.median(rate["fsync"]), statistics.median(rate["nofsync"])
print(f"median: fsync {f:.1f} msg/s, no-fsync {n:.1f} msg/s (ratio {f/n:.2f}); "
      f"time in fsync {statistics.median(us):.0f} us/msg; per-message cost of durability "
      f"{(1/f - 1/n)*1e6:.0f} us")
PY
