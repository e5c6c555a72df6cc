#!/usr/bin/env bash
# Evaluate a model on a slice of the committed world test split with `physedit edit` + `physedit world eval`.
#   tools/train/eval_slice.sh MODEL_DIR OUT_DIR [PER=6] [STEPS=20] [EXTRA physedit edit flags...]
# Takes the first PER cases of each category of data/world/test (54 with PER=6), writes a sub-suite to OUT_DIR/suite,
# the edits to OUT_DIR/edited, the copy-the-source baseline to OUT_DIR/identity, and prints both tables.
set -euo pipefail
MODEL=$1; OUT=$2; PER=${3:-6}; STEPS=${4:-20}; shift $(( $# < 4 ? $# : 4 ))
BIN=${PHYSEDIT:-./target/debug/physedit}
SUITE=${SUITE:-data/world/test}
mkdir -p "$OUT/suite" "$OUT/edited" "$OUT/identity"
python3 -c 'import json,sys
seen = {}
for l in open(sys.argv[1]):
    c = json.loads(l)["category"]
    seen[c] = seen.get(c, 0) + 1
    if seen[c] <= int(sys.argv[2]):
        sys.stdout.write(l)' "$SUITE/cases.jsonl" "$PER" > "$OUT/suite/cases.jsonl"
cp "$SUITE/suite.json" "$OUT/suite/suite.json"
for d in images targets masks frames; do ln -sfn "$(realpath "$SUITE/$d")" "$OUT/suite/$d"; done
start=$(date +%s)
n=0
while IFS=$'\t' read -r key prompt; do
  cp "$SUITE/images/$key.png" "$OUT/identity/$key.png"
  "$BIN" edit --model "$MODEL" --image "$SUITE/images/$key.png" --prompt "$prompt" --steps "$STEPS" \
    -o "$OUT/edited/$key.png" "$@" 2>>"$OUT/edit.log" | tail -1 >> "$OUT/edit.log"
  n=$((n + 1))
done < <(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l); print(m["key"] + "\t" + m["prompt"])' "$OUT/suite/cases.jsonl")
echo "edited $n cases in $(( $(date +%s) - start )) s"
echo "== model =="; "$BIN" world eval --suite "$OUT/suite" --edited "$OUT/edited"
echo "== identity (source copied) =="; "$BIN" world eval --suite "$OUT/suite" --edited "$OUT/identity"
