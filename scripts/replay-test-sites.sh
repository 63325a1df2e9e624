#!/usr/bin/env bash
# Issue #12's measurement: learning curves on the two test-split sites
# (models/README.md records them; nothing is chosen on them). The video site is
# the Shakira video (youtube-xvideo/test.jsonl) with youtube-xvideo/train +
# sms/train as its base; the SMS site is sms/test.jsonl with YouTube only as its
# base, given both as one file (youtube/train.jsonl) and as one file per video
# (split by its `video` field: a base of several files is what gives a model its
# day-one threshold, README "Day one").
# Usage: scripts/replay-test-sites.sh [--orders N] [BIN]
#   (defaults: 5 orders, target/release/replyguard built here)
set -euo pipefail
# shellcheck source=scripts/replay-args.sh
source "$(dirname "$0")/replay-args.sh"
at=0,25,50,100,200
videos=target/test-sites
mkdir -p "$videos"
python3 - "$data/youtube/train.jsonl" "$videos" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for video in sorted({r["video"] for r in rows}):
    with open(f"{sys.argv[2]}/youtube-train-{video}.jsonl", "w") as out:
        for r in rows:
            if r["video"] == video:
                out.write(json.dumps(r) + "\n")
PY
echo "## site: youtube-xvideo/test (base: youtube-xvideo/train + sms/train)"
"$bin" replay --data "$data/youtube-xvideo/test.jsonl" --base "$data/youtube-xvideo/train.jsonl" \
  --base "$data/sms/train.jsonl" --orders "$orders" --at "$at" 2>/dev/null
echo "## site: sms/test (base: youtube/train as one file)"
"$bin" replay --data "$data/sms/test.jsonl" --base "$data/youtube/train.jsonl" \
  --orders "$orders" --at "$at" 2>/dev/null
echo "## site: sms/test (base: youtube/train as one file per video)"
base=()
for file in "$videos"/youtube-train-*.jsonl; do base+=(--base "$file"); done
"$bin" replay --data "$data/sms/test.jsonl" "${base[@]}" --orders "$orders" --at "$at" 2>/dev/null
