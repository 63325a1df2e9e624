#!/usr/bin/env bash
# schemathesis (PyPI, pinned in requirements.txt, installed into
# target/schemathesis-venv) against the live server's own OpenAPI document
# (/api/v1/openapi.json), on SQLite and on PostgreSQL (a scratch database at
# TEST_DATABASE_URL's server), with an admin token. It generates valid and
# invalid requests for every operation (at most $ST_MAX_EXAMPLES each) and
# fails on any 5xx and on any response the document does not describe
# (status, content type, headers, body schema). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/serve.sh
here=scripts/schemathesis
pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
max_examples=${ST_MAX_EXAMPLES:-25}

venv=target/schemathesis-venv
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

cargo build --locked --quiet --bin replyguard
bin=target/debug/replyguard

scratch_space schemathesis

run_backend() {
  local name=$1 url=$2 port token status=0
  token=$(DATABASE_URL=$url "$bin" token create schemathesis 2>/dev/null)
  port=$(free_port)
  # Flood control and the per-IP limits are off, or most generated requests
  # would get a (documented) 429 and reach nothing else.
  DATABASE_URL=$url REPLYGUARD_BIND=127.0.0.1:$port \
    REPLYGUARD_FLOOD_SECONDS=0 REPLYGUARD_RATE_LIMIT_PER_MINUTE=0 REPLYGUARD_READ_RATE_LIMIT_PER_MINUTE=0 \
    REPLYGUARD_MIN_EXAMPLES_PER_CLASS=2 RUST_LOG=warn "$bin" serve >"$work/$name.log" 2>&1 &
  server=$!
  wait_ready "$port" /readyz
  python3 "$here/seed.py" "http://127.0.0.1:$port" "$token"
  echo "== schemathesis against replyguard on $name"
  # One worker: Python 3.11's ast module is not safe to use from several
  # threads at once, and hypothesis parses source while it describes
  # strategies ("AST constructor recursion depth mismatch", CPython gh-106905).
  "$venv/bin/st" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "$max_examples" --seed 20261126 --workers 1 \
    --generation-database none --no-color \
    --report junit --report-dir "target/schemathesis/$name" || status=1
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
  if [ "$status" -ne 0 ]; then
    echo "server log:"; tail -n 50 "$work/$name.log"
    return 1
  fi
}

run_backend sqlite "sqlite://$work/schemathesis.db"
psql "$pg_url" -qc "CREATE DATABASE $scratch"
run_backend postgres "${pg_url%/*}/$scratch"
echo "schemathesis passed on SQLite and PostgreSQL"
