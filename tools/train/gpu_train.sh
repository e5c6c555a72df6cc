#!/usr/bin/env bash
# Stage 2 (and decoder-only VAE fine-tuning beside it) on one CUDA GPU, in one go, from fresh data.
#
#   tools/train/gpu_train.sh PHYSEDIT OUT [MINUTES=6] [CASES_PER_SEED=12288] [BATCH=512]
#
# PHYSEDIT: a release build of the physedit binary. MINUTES of stage 2; the decoder trains a minute longer
# beside it. The VAE encoder stays the bundled model's (stage 2 learns its latents; export.py checks it).
# A smoke pass of every step (tiny data, seconds of training, both exports) runs first, so a broken step
# costs seconds of device time instead of the whole run. Written to OUT: model.tar (pipeline folder with
# the fine-tuned decoder), model_olddec.tar (same transformer, bundled decoder), vae.tar (the fine-tuned
# VAE, kept even if an export fails), logs.tar.gz. Python: torch + diffusers + transformers.
# DEVICE=cpu runs the same steps on the CPU (to try the script with tiny sizes).
set -uo pipefail
BIN=$1
OUT=$2
MIN=${3:-6}
N=${4:-12288}
BATCH=${5:-512}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=$HERE/../../models/physedit-world
W=${WORK:-/tmp/gpu_train}
rm -rf "$W" && mkdir -p "$W" "$OUT"
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

# run_pass DIR MINUTES CASES_PER_SEED BATCH DECODER_EXTRA_MINUTES: data, decoder + stage 2 side by side,
# both exports.
run_pass() {
  local d=$1 min=$2 n=$3 batch=$4 extra=$5
  mkdir -p "$d"
  # 4 x n training cases, 8 frames each (one per temporal RoPE position), generated in parallel
  for s in 0 1 2 3; do
    "$BIN" world generate --split train --n "$n" --seed $((11 + s)) --size 64 --frames 8 --format shards \
      --shard-size 4096 --out "$d/d$s" >/dev/null &
  done
  wait || return 1
  stamp "$d: data $(du -sh "$d" | cut -f1)"
  $PY "$HERE/train_vae.py" --device "$DEVICE" --shards "$d/d0" --init "$BASE/vae" --out "$d/vae" \
    --freeze-encoder --minutes "$(awk "BEGIN { print $min + $extra }")" --batch 64 --crop 64 --lr 5e-4 --threads 4 \
    > "$d/vae.log" 2>&1 &
  local vae=$!
  $PY "$HERE/train_dit.py" --device "$DEVICE" --preload --shards "$d/d0,$d/d1,$d/d2,$d/d3" --vae "$BASE/vae" \
    --out "$d/dit" --minutes "$min" --batch "$batch" --reason-batch $((batch / 4)) --lr 1e-3 --warmup 200 \
    --ema 0.999 --print-every 250 --ckpt-every 60 --threads 4 2>&1 | tee "$d/dit.log"
  local dit=${PIPESTATUS[0]}
  wait $vae
  local vae_rc=$?
  tail -n 2 "$d/vae.log"
  stamp "$d: stage 2 rc $dit, decoder rc $vae_rc"
  [ "$dit" = 0 ] && [ "$vae_rc" = 0 ] || return 1
  $PY "$HERE/export.py" --vae "$d/vae" --encoder "$BASE/vae" --dit "$d/dit" --out "$d/model" || return 1
  $PY "$HERE/export.py" --vae "$BASE/vae" --dit "$d/dit" --out "$d/model_olddec" || return 1
}

if ! run_pass "$W/smoke" 0.05 128 32 0 > "$W/smoke.log" 2>&1; then
  cat "$W/smoke.log"
  cp "$W/smoke.log" "$OUT/"
  stamp "smoke pass failed: stopping"
  exit 1
fi
stamp "smoke pass ok"
run_pass "$W/run" "$MIN" "$N" "$BATCH" 1
rc=$?
cd "$W/run" || exit 1
for m in model model_olddec vae; do [ -d "$m" ] && tar cf "$OUT/$m.tar" "$m"; done
tar czf "$OUT/logs.tar.gz" dit.log vae.log dit/log.csv vae/log.csv 2>/dev/null
stamp "run rc $rc; written to $OUT"
ls -la "$OUT"
exit $rc
