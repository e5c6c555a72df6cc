#!/usr/bin/env bash
# Quality, speed and SRM masks of a world model on a slice of the committed test split.
#   tools/train/eval_bench.sh MODEL_DIR OUT_DIR [PER=6] [RECIPES=chronoedit-reasoning,physedit,no-reasoning] [FLAGS...]
# FLAGS (e.g. --guidance 1) go to `physedit bench` and to the mask edits alike.
# 1. OUT/suite: the first PER cases of each category of data/world/test (suite.json + cases.jsonl).
# 2. `physedit bench` runs the recipes side by side (timed case by case in one run) -> OUT/bench.
# 3. `physedit world eval` scores each recipe's pictures (success, PSNR per category), and the
#    copy-the-source reference point.
# 4. SRM masks: `physedit edit --recipe physedit --mask-out` for every case whose plan runs the mask
#    (OUT/srm_masks), scored by IoU against the true edit masks.
set -euo pipefail
MODEL=$1; OUT=$2; PER=${3:-6}; RECIPES=${4:-chronoedit-reasoning,physedit,no-reasoning}; shift $(( $# < 4 ? $# : 4 ))
BIN=${PHYSEDIT:-./target/release/physedit}
SUITE=data/world/test
mkdir -p "$OUT/suite" "$OUT/identity" "$OUT/srm_masks"
python3 - "$SUITE" "$PER" "$OUT/suite" <<'EOF'
import json, sys
suite, per, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
full = json.load(open(f"{suite}/suite.json"))
seen, keep, lines = {}, {}, []
for line in open(f"{suite}/cases.jsonl"):
    c = json.loads(line)
    seen[c["category"]] = seen.get(c["category"], 0) + 1
    if seen[c["category"]] <= per:
        keep[c["key"]] = full[c["key"]]
        lines.append(line)
json.dump(keep, open(f"{out}/suite.json", "w"), indent=1)
open(f"{out}/cases.jsonl", "w").writelines(lines)
EOF
for d in images targets masks frames; do ln -sfn "$(realpath "$SUITE/$d")" "$OUT/suite/$d"; done

"$BIN" bench --suite "$OUT/suite/suite.json" --images "$OUT/suite" --model "$MODEL" --out "$OUT/bench" \
  --recipes "$RECIPES" --cpu "$@"
for r in ${RECIPES//,/ }; do
  echo "== $r =="
  "$BIN" world eval --suite "$OUT/suite" --edited "$OUT/bench/$r" --out "$OUT/eval_$r.jsonl"
done
while IFS=$'\t' read -r key prompt; do
  cp "$SUITE/images/$key.png" "$OUT/identity/$key.png"
  log=$("$BIN" edit --model "$MODEL" --recipe physedit --image "$SUITE/images/$key.png" --prompt "$prompt" \
    -o "$OUT/srm_masks/$key.edit.png" --mask-out "$OUT/srm_masks/$key.png" "$@" 2>&1)
  rm -f "$OUT/srm_masks/$key.edit.png"
  if grep -q "SRM did not run" <<<"$log"; then rm -f "$OUT/srm_masks/$key.png"; fi
done < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l); print(m["key"] + "\t" + m["prompt"])' "$OUT/suite/cases.jsonl")
echo "== identity (source copied) =="
"$BIN" world eval --suite "$OUT/suite" --edited "$OUT/identity" --out "$OUT/eval_identity.jsonl"
echo "== SRM masks ($(ls "$OUT/srm_masks" | wc -l) cases where the plan runs the mask; IoU column) =="
"$BIN" world eval --suite "$OUT/suite" --edited "$OUT/bench/physedit" --masks "$OUT/srm_masks" \
  --out "$OUT/eval_srm.jsonl"
