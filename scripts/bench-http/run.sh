#!/usr/bin/env bash
# HTTP benchmark of replyguard (issue #13), one table at the end:
#   - the ceiling: pgbench, one durable INSERT of a comment row per transaction,
#     32 clients, on the same PostgreSQL;
#   - POST /api/v1/comments at 4 and 32 connections on PostgreSQL and on SQLite,
#     every request a distinct commenter (X-Forwarded-For from a trusted proxy,
#     its own email and text), flood control and rate limits off; every comment
#     answered 201 is then looked up in the database;
#   - GET /api/v1/posts/{id}/comments (20 approved comments) at 32 connections.
# Each measurement gets a fresh database and a fresh server; RSS is the server's
# peak (VmHWM). Durable commits only (PostgreSQL's defaults; SQLite
# synchronous=FULL, as the service always sets it).
#
# Usage: scripts/bench-http/run.sh [--database-url postgres://…] [--seconds N]
#                                  [--bin PATH] [--only ceiling,post,get]
# Without --database-url it creates a throwaway PostgreSQL cluster (initdb as
# the postgres user on a free loopback port) and removes it afterwards. It
# installs wrk (Debian) if missing. Traffic goes to 127.0.0.1 only, for
# --seconds (default 10) per measurement.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/bench-http

seconds=10
pg_url=""
bin=""
only="ceiling,post,get"
while [ $# -gt 0 ]; do
  case $1 in
    --database-url) pg_url=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

. "$here/common.sh"
[ -n "$pg_url" ] || throwaway_cluster
server_url=${pg_url%/*}

# A fresh database for one measurement; prints its URL.
fresh_pg() {
  local name="bench_$1_$$"
  PGOPTIONS="-c client_min_messages=warning" psql "$pg_url" -qc "DROP DATABASE IF EXISTS $name" \
    -c "CREATE DATABASE $name" >/dev/null
  echo "$server_url/$name"
}

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# serve DATABASE_URL: starts the binary; sets $server and $port.
serve() {
  port=$(free_port)
  DATABASE_URL=$1 REPLYGUARD_BIND=127.0.0.1:$port REPLYGUARD_FLOOD_SECONDS=0 \
    REPLYGUARD_RATE_LIMIT_PER_MINUTE=0 REPLYGUARD_READ_RATE_LIMIT_PER_MINUTE=0 \
    REPLYGUARD_TRUSTED_PROXIES=127.0.0.1/32 RUST_LOG=warn \
    "$bin" serve >>"$work/server.log" 2>&1 &
  server=$!
  wait_ready "$port" /readyz
}

# Stops the server; sets $peak to its peak RSS in MB.
stop() {
  peak=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server/status")
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
}

# stored URL IDS_FILE: how many of the ids are comments in the database.
stored() {
  if [[ $1 == postgres* ]]; then
    psql "$1" -qtA -c "CREATE TEMP TABLE acked (id BIGINT)" \
      -c "\\copy acked FROM '$2'" \
      -c "SELECT count(*) FROM acked JOIN comments USING (id)" | tail -1
  else
    python3 - "${1#sqlite://}" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ids = [int(line) for line in open(sys.argv[2]) if line.strip()]
found = 0
for i in range(0, len(ids), 500):
    chunk = ids[i:i + 500]
    q = "SELECT count(*) FROM comments WHERE id IN (%s)" % ",".join("?" * len(chunk))
    found += db.execute(q, chunk).fetchone()[0]
print(found)
PY
  fi
}

if wants ceiling; then
  url=$(fresh_pg ceiling)
  DATABASE_URL=$url "$bin" migrate >/dev/null
  out=$(pgbench -n -c 32 -j 2 -T "$seconds" -f "$here/insert.sql" "$url" 2>&1)
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
  ceiling=${tps%.*}
  row "pgbench: one INSERT of a comment row per transaction, 32 clients" "$ceiling tps" "avg $lat ms" "—" "—" "the ceiling"
fi

post() {
  local backend=$1 conns=$2 url ids out acked found
  if [ "$backend" = postgres ]; then url=$(fresh_pg "post$conns"); else url="sqlite://$work/post$conns.db"; fi
  serve "$url"
  ids=$work/ids-$backend-$conns
  out=$(BENCH_IDS=$ids wrk -t2 -c"$conns" -d"${seconds}s" --timeout 10s -s "$here/post.lua" \
    "http://127.0.0.1:$port" -- "$backend$conns" | grep '^BENCH')
  stop
  acked=$(field ok "$out")
  found=$(stored "$url" "$ids")
  local share="—"
  [ -n "${ceiling:-}" ] && share=$(python3 -c "print(f'{$(field rps "$out") / $ceiling:.2f}×')")
  row "POST /api/v1/comments, $backend, $conns connections" "$(field rps "$out")/s ($share the ceiling)" \
    "p50 $(field p50_ms "$out") ms, p99 $(field p99_ms "$out") ms" "max $(field max_ms "$out") ms" \
    "$peak MB" "$acked answered 201, $found of them stored; $(field failed "$out") other answers, $(field errors "$out") socket errors"
  if [ "$found" != "$acked" ]; then
    echo "LOST: $acked comments were answered 201 but only $found are stored ($backend, $conns connections)" >&2
    lost=1
  fi
}

lost=0
if wants post; then
  post postgres 4
  post postgres 32
  post sqlite 4
  post sqlite 32
fi

if wants get; then
  url=$(fresh_pg get)
  serve "$url"
  token=$(DATABASE_URL=$url "$bin" token create bench 2>/dev/null)
  python3 - "$port" "$token" <<'PY'
import json, sys, urllib.request
port, token = sys.argv[1], sys.argv[2]
def call(method, path, body, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})})
    return json.load(urllib.request.urlopen(req))
ids = [call("POST", "/api/v1/comments", {"post_id": "bench-read", "author_name": f"Reader {i}",
        "author_email": f"reader{i}@bench.example",
        "content": f"Comment {i} on the article, long enough to look like a real one, with a link https://example.org/{i}."},
        {"X-Forwarded-For": f"10.9.0.{i + 1}"})["id"] for i in range(20)]
out = call("POST", "/api/v1/admin/comments/bulk", {"ids": ids, "status": "approved"},
           {"Authorization": f"Bearer {token}"})
assert len(out["updated"]) == 20, out
PY
  out=$(wrk -t2 -c32 -d"${seconds}s" --timeout 10s -s "$here/get.lua" \
    "http://127.0.0.1:$port/api/v1/posts/bench-read/comments" | grep '^BENCH')
  stop
  row "GET /api/v1/posts/{id}/comments (20 approved), PostgreSQL, 32 connections" "$(field rps "$out")/s" \
    "p50 $(field p50_ms "$out") ms, p99 $(field p99_ms "$out") ms" "max $(field max_ms "$out") ms" "$peak MB" \
    "$(field failed "$out") answers not 200, $(field errors "$out") socket errors"
fi

echo
echo "replyguard at $(git rev-parse --short HEAD) ($bin), $(nproc) cores, ${seconds} s per measurement, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| measure | throughput | latency | worst | peak RSS | notes |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit "$lost"
