#!/usr/bin/env bash
# Fills a scratch PostgreSQL database with a million comments and prints the
# query plans of the admin queue and the public read, first page and deep page.
# Usage: scripts/explain-queue.sh [postgres://postgres@127.0.0.1:5432]
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432}
db=replyguard_explain
psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db"' EXIT
cargo build --release --quiet
DATABASE_URL="$server/$db" target/release/replyguard migrate
psql "$server/$db" -q <<'SQL'
INSERT INTO comments (post_id, status, author_name, author_email, content, reasons, created_at, updated_at)
SELECT 'post-' || (g % 5000),
       (ARRAY['pending','approved','spam','trash'])[1 + g % 4],
       'author ' || g, 'a' || g || '@example.com', 'comment number ' || g, '[]',
       timestamp '2026-01-01' + g * interval '1 second',
       timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 1000000) AS g;
ANALYZE comments;
SQL
run() { echo "-- $1"; psql "$server/$db" -qAt -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) $2" | grep -v '^$'; echo; }
cols="id, post_id, parent_id, status, author_name, author_email, author_url, content, permalink, ip, user_agent, referrer, spam_score, model_version, reasons, created_at, updated_at"
run "admin queue, pending, newest first, first page" \
  "SELECT $cols FROM comments WHERE status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 51"
run "admin queue, pending, newest first, page after 500,000 rows" \
  "SELECT $cols FROM comments WHERE status = 'pending' AND created_at <= '2026-01-07 00:00:00' AND (created_at < '2026-01-07 00:00:00' OR id < 518400) ORDER BY created_at DESC, id DESC LIMIT 51"
run "admin queue, all statuses, oldest first, deep page" \
  "SELECT $cols FROM comments WHERE created_at >= '2026-01-10 00:00:00' AND (created_at > '2026-01-10 00:00:00' OR id > 777600) ORDER BY created_at ASC, id ASC LIMIT 51"
run "public read, one post, deep page" \
  "SELECT $cols FROM comments WHERE post_id = 'post-41' AND status = 'approved' AND created_at >= '2026-01-05 00:00:00' AND (created_at > '2026-01-05 00:00:00' OR id > 345600) ORDER BY created_at ASC, id ASC LIMIT 51"
run "known-author check" \
  "SELECT id FROM comments WHERE author_email = 'a999999@example.com' AND status = 'approved' LIMIT 1"
