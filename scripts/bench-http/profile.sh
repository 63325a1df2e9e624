#!/usr/bin/env bash
# Where the CPU goes during POST /api/v1/comments (issue #13): a throwaway
# PostgreSQL cluster (or a SQLite file), the release binary, 3 s of warm-up,
# then `perf record -a -g` over 8 s of a 10 s wrk run (32 connections by
# default, the same load as run.sh). Prints the share of samples per command
# (postgres, the server's threads, wrk, idle: "swapper"), PostgreSQL's own
# time in planning, the submission functions, index inserts and commits, and
# on SQLite the share of the writer thread and of its disk syncs.
#
# Usage: scripts/bench-http/profile.sh [--bin PATH] [--connections N]
#                                      [--backend postgres|sqlite]
# Needs perf (Debian linux-perf) and root (system-wide sampling, initdb as
# the postgres user). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/bench-http

bin=""
conns=32
backend=postgres
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --backend) backend=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null 2>&1 || { echo "perf is missing (apt install linux-perf)" >&2; exit 2; }
. "$here/common.sh"
if [ "$backend" = sqlite ]; then
  url="sqlite://$work/profile.db"
else
  throwaway_cluster
  url=$pg_url
fi

sport=$(free_port)
DATABASE_URL=$url REPLYGUARD_BIND=127.0.0.1:$sport REPLYGUARD_FLOOD_SECONDS=0 \
  REPLYGUARD_RATE_LIMIT_PER_MINUTE=0 REPLYGUARD_READ_RATE_LIMIT_PER_MINUTE=0 \
  REPLYGUARD_TRUSTED_PROXIES=127.0.0.1/32 RUST_LOG=warn \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
wait_ready "$sport" /readyz

BENCH_IDS=$work/warm wrk -t2 -c"$conns" -d3s --timeout 10s -s "$here/post.lua" \
  "http://127.0.0.1:$sport" -- warm >/dev/null
perf record -a -g -o "$work/perf.data" -- sleep 8 >/dev/null 2>&1 &
recorder=$!
BENCH_IDS=$work/ids wrk -t2 -c"$conns" -d10s --timeout 10s -s "$here/post.lua" \
  "http://127.0.0.1:$sport" -- "$backend$conns" | grep '^BENCH'
wait "$recorder"

echo
echo "share of all samples, by command:"
perf report -i "$work/perf.data" --sort comm --no-children --stdio -g none 2>/dev/null |
  grep '%' | head -8
echo
if [ "$backend" = postgres ]; then
  echo "PostgreSQL (share of all samples, callees included):"
  perf report -i "$work/perf.data" --comm postgres --sort sym --children --stdio -g none 2>/dev/null |
    grep -E ' (PostgresMain|plpgsql_exec_function|GetCachedPlan|standard_planner|ExecInsertIndexTuples|CommitTransactionCommand|XLogFlush|jsonb_in)$' |
    awk '!seen[$NF]++' || true
else
  echo "SQLite's writer thread (share of all samples, callees included):"
  perf report -i "$work/perf.data" --comm replyguard-writ --sort sym --children --stdio -g none 2>/dev/null |
    grep -E ' (sqlite3_step|sqlite3VdbeExec|sqlite3BtreeCommitPhaseOne|sqlite3PagerCommitPhaseOne|unixSync|__x64_sys_fsync|__x64_sys_fdatasync|ext4_sync_file|__x64_sys_pwrite64)$' |
    awk '!seen[$NF]++' || true
fi
