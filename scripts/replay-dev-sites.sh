#!/usr/bin/env bash
# Learning curves on development sites made of the *train* splits only, for
# choosing how a site learns without touching a test split (models/README.md):
# each of the four videos of youtube-xvideo/train.jsonl as a site, with the
# other three plus sms/train.jsonl as its base; and sms/train.jsonl as a site
# with youtube-xvideo/train.jsonl as its base, as one file and as one file per
# video.
# Usage: scripts/replay-dev-sites.sh [--orders N] [BIN]
#   (defaults: 5 orders, target/release/replyguard built here)
set -euo pipefail
# shellcheck source=scripts/replay-args.sh
source "$(dirname "$0")/replay-args.sh"
sites=target/dev-sites
mkdir -p "$sites"
python3 - "$data/youtube-xvideo/train.jsonl" "$sites" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for video in sorted({r["video"] for r in rows}):
    with open(f"{sys.argv[2]}/site-{video}.jsonl", "w") as site, \
         open(f"{sys.argv[2]}/base-no-{video}.jsonl", "w") as base:
        for r in rows:
            (site if r["video"] == video else base).write(json.dumps(r) + "\n")
PY
for video in eminem katyperry lmfao psy; do
  echo "## site: $video (base: the other three videos + sms/train)"
  "$bin" replay --data "$sites/site-$video.jsonl" --base "$sites/base-no-$video.jsonl" \
    --base "$data/sms/train.jsonl" --orders "$orders" --at 0,50,100,200 2>/dev/null
done
echo "## site: sms/train (base: youtube-xvideo/train)"
"$bin" replay --data "$data/sms/train.jsonl" --base "$data/youtube-xvideo/train.jsonl" \
  --orders "$orders" --at 0,50,100,200 2>/dev/null
echo "## site: sms/train (base: youtube-xvideo/train as one file per video)"
base=()
for video in eminem katyperry lmfao psy; do
  base+=(--base "$sites/site-$video.jsonl")
done
"$bin" replay --data "$data/sms/train.jsonl" "${base[@]}" \
  --orders "$orders" --at 0,50,100,200 2>/dev/null
