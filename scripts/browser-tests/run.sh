#!/usr/bin/env bash
# Browser tests of the web pages (/admin/, /embed/comments.js, /demo/) in
# Debian's chromium (/usr/bin/chromium, or $CHROMIUM), driven by npm
# playwright-core (package-lock.json; it downloads no browser). Each run starts
# the binary on SQLite and on PostgreSQL (a scratch database at
# TEST_DATABASE_URL's server) and runs pages.test.mjs against it. Screenshots
# of the admin and demo pages, desktop and phone width, are written to
# target/screenshots/. Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/serve.sh
here=scripts/browser-tests
pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "no chromium at $chromium (apt install chromium)"; exit 1; }

cargo build --locked --quiet --bin replyguard
bin=target/debug/replyguard
(cd "$here" && npm ci --silent --no-audit --no-fund)
mkdir -p target/screenshots

scratch_space browser_tests

run_backend() {
  local name=$1 url=$2 port token
  token=$(DATABASE_URL=$url "$bin" token create browser-tests 2>/dev/null)
  port=$(free_port)
  # The default policy (known-authors: a first comment waits for a moderator,
  # an approved author's next is published at once); no comment is spam by
  # its score (the model's verdicts are tested elsewhere); the tests post several
  # from one address (and a spam wave through a trusted proxy), so flood
  # control and the per-IP limit are off.
  DATABASE_URL=$url REPLYGUARD_BIND=127.0.0.1:$port \
    REPLYGUARD_FLOOD_SECONDS=0 REPLYGUARD_RATE_LIMIT_PER_MINUTE=0 \
    REPLYGUARD_TRUSTED_PROXIES=127.0.0.1/32 REPLYGUARD_MIN_EXAMPLES_PER_CLASS=2 REPLYGUARD_SPAM_THRESHOLD=0.999 \
    RUST_LOG=warn "$bin" serve >"$work/$name.log" 2>&1 &
  server=$!
  wait_ready "$port" /readyz
  echo "== web pages in chromium against replyguard on $name"
  local status=0
  RG_URL=http://127.0.0.1:$port RG_TOKEN=$token RG_BACKEND=$name CHROMIUM=$chromium \
    RG_SCREENSHOTS=target/screenshots node --test --test-reporter=spec "$here/pages.test.mjs" || status=1
  kill "$server" && wait "$server" 2>/dev/null || true
  server=""
  if [ "$status" -ne 0 ]; then
    echo "server log:"; cat "$work/$name.log"
    return 1
  fi
}

run_backend sqlite "sqlite://$work/pages.db"
psql "$pg_url" -qc "CREATE DATABASE $scratch"
run_backend postgres "${pg_url%/*}/$scratch"
echo "Browser tests passed on SQLite and PostgreSQL; screenshots in target/screenshots/"
