#!/usr/bin/env bash
# End-to-end test of the Akismet-compatible API with real, unmodified client
# libraries from the registries: PyPI `akismet` (requirements.txt; its httpx
# client gets a transport that sends to this server) and npm `akismet-api`
# (package-lock.json; it puts the key in the Host name). Each runs against the
# release-candidate binary on SQLite and on PostgreSQL, with a token made by
# `replyguard token create NAME --akismet-only`, and checks verify-key, ham,
# spam, discard (PyPI only: akismet-api hides response headers) and submits.
#
# Needs python3, node/npm and a PostgreSQL at TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/test); traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/serve.sh
here=scripts/akismet-e2e
pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --locked --quiet --bin replyguard
bin=target/debug/replyguard
venv=target/akismet-e2e/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
(cd "$here" && npm ci --silent --no-audit --no-fund)

scratch_space akismet_e2e
# The blatant comment the PyPI test sends contains this disallowed keyword.
echo DISCARDME > "$work/disallowed.txt"

run_backend() {
  local name=$1 url=$2 port token
  token=$(DATABASE_URL=$url "$bin" token create akismet-e2e --akismet-only 2>/dev/null)
  port=$(free_port)
  DATABASE_URL=$url REPLYGUARD_BIND=127.0.0.1:$port \
    REPLYGUARD_DISALLOWED_KEYS_FILE=$work/disallowed.txt RUST_LOG=warn \
    "$bin" serve >"$work/$name.log" 2>&1 &
  server=$!
  wait_ready "$port" /healthz
  echo "== Akismet clients against replyguard on $name"
  local status=0
  RG_URL=http://127.0.0.1:$port RG_AKISMET_KEY=$token RG_DISCARD_AUTHOR="Spam Bot" \
    "$venv/bin/python" "$here/akismet_py_e2e.py" || status=1
  RG_URL=http://127.0.0.1:$port RG_AKISMET_KEY=$token node "$here/akismet_api_e2e.mjs" || status=1
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
  if [ "$status" -ne 0 ]; then
    echo "server log:"; cat "$work/$name.log"
    return 1
  fi
}

run_backend sqlite "sqlite://$work/e2e.db"
psql "$pg_url" -qc "CREATE DATABASE $scratch"
run_backend postgres "${pg_url%/*}/$scratch"
echo "Akismet client end-to-end tests passed on SQLite and PostgreSQL"
