#!/usr/bin/env bash
# Stage 2 on one CUDA GPU, in one go, from fresh data; several transformer variants side by side.
#
#   VARIANTS='{};{"num_layers": 8};{}|--mask-weight 10' tools/train/gpu_train.sh PHYSEDIT OUT [MINUTES=6] [CASES_PER_SEED=12288] [BATCH=512]
#
# PHYSEDIT: a release build of the physedit binary. VARIANTS: ';'-separated variants, each JSON overrides
# of common.TRANSFORMER_CFG (default '{}': the bundled size), optionally followed by '|' and more
# train_dit.py flags; each is trained for MINUTES by its own process on the same GPU. The VAE is the
# bundled model's: the transformer is the bottleneck (success on its own training cases 22 % against the
# VAE's 73 % ceiling; 11k decoder-only GPU steps lowered the decoder's loss by only 8 %; docs/TRAINING.md).
# A smoke pass of every step (tiny data, seconds of training, the export) runs first, so a broken step
# costs seconds of GPU time instead of the whole run. Written to OUT: model_K.tar per variant K (the
# exported pipeline folder, EMA weights) and logs.tar.gz.
# Python: torch + diffusers + transformers. DEVICE=cpu runs the same steps on the CPU (to try the script).
set -uo pipefail
BIN=$1
OUT=$2
MIN=${3:-6}
N=${4:-12288}
BATCH=${5:-512}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
VARIANTS=${VARIANTS:-'{}'}
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=$HERE/../../models/physedit-world
W=${WORK:-/tmp/gpu_train}
rm -rf "$W" && mkdir -p "$W" "$OUT"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
IFS=';' read -r -a VARS <<< "$VARIANTS"

# run_pass DIR MINUTES CASES_PER_SEED BATCH: data, then every variant's stage 2 side by side, then exports.
run_pass() {
  local d=$1 min=$2 n=$3 batch=$4
  mkdir -p "$d"
  # 4 x n training cases, 8 frames each (one per temporal RoPE position), generated in parallel
  for s in 0 1 2 3; do
    "$BIN" world generate --split train --n "$n" --seed $((11 + s)) --size 64 --frames 8 --format shards \
      --shard-size 4096 --out "$d/d$s" >/dev/null &
  done
  wait || return 1
  stamp "$d: data $(du -sh "$d" | cut -f1)"
  local pids=() k
  for k in "${!VARS[@]}"; do
    local cfg=${VARS[$k]%%|*} extra=""
    [[ ${VARS[$k]} == *"|"* ]] && extra=${VARS[$k]#*|}
    # shellcheck disable=SC2086  # extra holds several flags
    $PY "$HERE/train_dit.py" --device "$DEVICE" --preload --shards "$d/d0,$d/d1,$d/d2,$d/d3" --vae "$BASE/vae" \
      --out "$d/dit_$k" --transformer "$cfg" --minutes "$min" --batch "$batch" \
      --reason-batch $((batch / 4)) --lr 1e-3 --warmup 200 --ema 0.999 --print-every 250 --ckpt-every 60 \
      --threads 4 $extra > "$d/dit_$k.log" 2>&1 &
    pids+=($!)
  done
  local failed=0
  for k in "${!VARS[@]}"; do
    wait "${pids[$k]}" || failed=1
    tail -n 2 "$d/dit_$k.log"
    stamp "$d: variant $k ${VARS[$k]} done"
  done
  [ "$failed" = 0 ] || return 1
  for k in "${!VARS[@]}"; do
    $PY "$HERE/export.py" --vae "$BASE/vae" --dit "$d/dit_$k" --out "$d/model_$k" || return 1
  done
}

if ! run_pass "$W/smoke" 0.05 128 32 > "$W/smoke.log" 2>&1; then
  cat "$W/smoke.log" "$W"/smoke/dit_*.log
  stamp "smoke pass failed: stopping"
  exit 1
fi
stamp "smoke pass ok"
run_pass "$W/run" "$MIN" "$N" "$BATCH"
rc=$?
cd "$W/run" || exit 1
for m in model_*; do [ -d "$m" ] && tar cf "$OUT/$m.tar" "$m"; done
tar czf "$OUT/logs.tar.gz" dit_*.log dit_*/log.csv 2>/dev/null
stamp "run rc $rc; written to $OUT"
ls -la "$OUT"
exit $rc
