#!/usr/bin/env bash
# Trains the recipe on each split's train file and evaluates on its test file,
# then evaluates the shipped model on the youtube and sms test files.
# Usage: scripts/evaluate-splits.sh [DATA_DIR]   (default ../shared/data/splits)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/splits}
out=target/split-models
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/replyguard
printf '%-26s %6s %6s %6s %6s %6s %6s %6s\n' model/test mcc fpr precision recall auc spam_t ham_t
row() {
  "$bin" eval --model "$1" --data "$2" --json | python3 -c '
import json,sys; m=json.load(sys.stdin)
print("%-26s %6.3f %6.4f %6.3f %6.3f %6.3f %6.3f %6.3f" % (sys.argv[1], m["mcc"], m["fpr"], m["precision"], m["recall"], m["auc"], m["spam_threshold"], m["ham_threshold"]))' "$3"
}
for split in youtube youtube-xvideo sms; do
  "$bin" train --data "$data/$split/train.jsonl" --out "$out/$split.json" >/dev/null
  row "$out/$split.json" "$data/$split/test.jsonl" "$split/$split"
done
row models/spam_nb-v1.json "$data/youtube/test.jsonl" "shipped/youtube"
row models/spam_nb-v1.json "$data/sms/test.jsonl" "shipped/sms"
