# Sourced by the replay-*-sites.sh scripts: `[--orders N] [BIN]` into $orders
# and $bin (default: 5 orders, target/release/replyguard built here), the data
# directory into $data. Runs from the repository root.
cd "$(dirname "$0")/.."
orders=5
if [ "${1:-}" = --orders ]; then orders=$2; shift 2; fi
data=${DATA_DIR:-../shared/data/splits}
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=target/release/replyguard
fi
