#!/usr/bin/env bash
# The device check: one script, prebuilt binaries (no build here), one JSON and a table.
#
#   tools/gpu/check.sh [--bin DIR] [--out FILE.json]      # on a GPU machine (<= 8 min on one H100/H200)
#   tools/gpu/check.sh --dry-run [--bin DIR]              # CPU, tiny sizes, a few minutes
#
# --bin DIR holds bench_gpu (and physedit) built by tools/gpu/build.sh (DIR = .../dist/physedit-flash-attn
# or .../physedit-cuda) for the GPU run, or any CPU build (target/release, target/debug) for the dry
# run; --bin FILE.tar.xz takes build.sh's packed binaries (dist/physedit-flash-attn.tar.xz), the form
# small enough to carry to a GPU machine. Default: the first of target/gpu/dist/physedit-flash-attn,
# physedit-cuda, physedit-flash-attn.tar.xz, physedit-cuda.tar.xz, target/release, target/debug.
#
# What it measures (each step writes its part of the JSON; a failed step is recorded, not fatal):
#  1. parity: the committed fixtures (tiny_a, tiny_b) in f32 on the device vs the CPU vs diffusers'
#     frames; pass when every frame is within 2e-3; then attention: every kernel that runs here
#     (flash in flash-attn builds, chunked) against the naive one on random bf16 inputs of the 14B's
#     self-attention shapes (2 and 8 latent frames, CFG batch), within 2e-2 (bf16 outputs);
#  2. forward: the 14B transformer's config (40 heads x 128, 40 blocks, ffn 13824, text 4096, image
#     1280; random weights made on the device), bf16, one forward at 480x832 (60x104 latents) with 2
#     and with 8 latent frames, CFG batch of two: seconds and peak device memory;
#     diffusers (torch SDPA) on the same config and inputs in the same run when python3 can import
#     torch and diffusers with a GPU (tools/reference/bench_transformer.py); otherwise the JSON says
#     so and only PhysEdit's figures are recorded;
#  3. recipes: whole edits per recipe (chronoedit-reasoning, chronoedit-short, no-reasoning,
#     chronoedit-distill, physedit on one instruction per CARD tier) with a 14B-sized random
#     transformer inside the tiny held-out pipeline (its VAE and encoders are tiny), at 480x832, 5
#     steps standing for 50 (the distilled recipe's 8 scaled alike).
# --dry-run runs the same steps on the CPU with a tiny transformer (2 heads x 32, 2 blocks) at
# 64x64 px, so the script is known to work end to end where no GPU is lent.
#
# Runtime libraries: a binary built by build.sh with CUDA 13.0 (its default) needs libcublas.so.13,
# libcublasLt.so.13, libcurand.so.10, libcudart.so.13 and libnvrtc.so.13; one built with Debian's
# CUDA 11.8 the .so.11 ones (see build.sh). When the loader cannot find them, the script looks in
# the NVIDIA wheels of the machine's Python (a PyTorch cu13 installation carries the CUDA 13 ones, in
# site-packages/nvidia/cu13/lib) and puts those folders on LD_LIBRARY_PATH; if some are still
# missing it stops with their list instead of a loader error. A CUDA 11.8 build cannot run where
# only CUDA 12/13 libraries exist (versioned symbols; libcublasLt.so.11 alone is 548 MB).
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DRY=0
BIN=""
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --bin) BIN="${2:?--bin needs a folder}"; shift ;;
        --out) OUT="${2:?--out needs a file}"; shift ;;
        -h|--help) sed -n '2,/^set -/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$BIN" ]; then
    for d in "$REPO/target/gpu/dist/physedit-flash-attn" "$REPO/target/gpu/dist/physedit-cuda" \
             "$REPO/target/gpu/dist/physedit-flash-attn.tar.xz" "$REPO/target/gpu/dist/physedit-cuda.tar.xz" \
             "$REPO/target/release" "$REPO/target/debug"; do
        if [ -x "$d/bench_gpu" ] || [ -f "$d" ]; then BIN="$d"; break; fi
    done
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ -f "$BIN" ]; then
    # A tar.xz packed by build.sh: unpack it here (python3's tarfile, so no xz binary is needed).
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' "$BIN" "$WORK/bin" ||
        { echo "check.sh: cannot unpack $BIN" >&2; exit 1; }
    BIN="$(dirname "$(find "$WORK/bin" -name bench_gpu -type f | head -1)")"
fi
[ -n "$BIN" ] && [ -x "$BIN/bench_gpu" ] || { echo "check.sh: no bench_gpu binary (build it: tools/gpu/build.sh, or cargo build --release --bins; or give --bin DIR)" >&2; exit 1; }
if [ "$DRY" = 1 ]; then
    OUT="${OUT:-$REPO/target/gpu-check-dry-run.json}"
else
    OUT="${OUT:-${OUT_DIR:-$REPO/target}/gpu-check.json}"
fi

# Missing CUDA libraries: look in the Python NVIDIA wheels, then say which are still missing.
missing() { ldd "$BIN/bench_gpu" 2>/dev/null | awk '/not found/{print $1}' | tr '\n' ' '; }
if [ -n "$(missing)" ] && command -v python3 >/dev/null; then
    wheel_libs=$(python3 -c 'import glob, os, sys
dirs = []
for s in sys.path:
    for d in sorted(glob.glob(os.path.join(s, "nvidia", "cu1*", "lib")) + glob.glob(os.path.join(s, "nvidia", "*", "lib"))):
        if d not in dirs:
            dirs.append(d)
print(":".join(dirs))' 2>/dev/null || true)
    if [ -n "$wheel_libs" ]; then
        export LD_LIBRARY_PATH="$wheel_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "check.sh: CUDA libraries from the Python NVIDIA wheels: $wheel_libs" >&2
    fi
fi
if [ -n "$(missing)" ]; then
    echo "check.sh: $BIN/bench_gpu needs libraries this machine lacks: $(missing)" >&2
    echo "  (built against another CUDA toolkit; put them on LD_LIBRARY_PATH or build against this machine's CUDA)" >&2
    exit 1
fi

# The flash-attention kernels may come as PTX that the driver compiles at first use: compile only
# the kernels used, and keep them.
export CUDA_MODULE_LOADING="${CUDA_MODULE_LOADING:-LAZY}"
export CUDA_CACHE_MAXSIZE="${CUDA_CACHE_MAXSIZE:-4294967296}"

if [ "$DRY" = 1 ]; then
    DEV=(--cpu)
    MODEL=(--heads 2 --head-dim 32 --layers 2 --ffn 128 --dtype f32)
    FWD=(--frames 2,3 --latent-height 8 --latent-width 8 --text-dim 64 --image-dim 32 --warmup 1 --iters 2)
    REC=(--height 64 --width 64 --steps 5)
    TORCH_ARGS=(--heads 2 --head-dim 32 --layers 2 --ffn 128 --text-dim 64 --image-dim 32 --height 8 --width 8 --dtype f32)
    FRAMES=(2 3)
    ATT=(--shapes "2,2,256,32;1,4,1024,64" --dtype f32)
else
    DEV=()
    MODEL=(--heads 40 --head-dim 128 --layers 40 --ffn 13824 --dtype bf16)
    FWD=(--frames 2,8 --latent-height 60 --latent-width 104 --text-dim 4096 --image-dim 1280 --warmup 1 --iters 2)
    REC=(--height 480 --width 832 --steps 5)
    TORCH_ARGS=(--heads 40 --head-dim 128 --layers 40 --ffn 13824 --text-dim 4096 --image-dim 1280 --height 60 --width 104 --dtype bf16)
    FRAMES=(2 8)
    ATT=(--shapes "2,40,3120,128;2,40,12480,128" --dtype bf16)
fi

step() { # name, command...: runs it, keeps its JSON line or the error
    local name="$1"; shift
    local t0=$(date +%s)
    echo "== $name" >&2
    if "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"; then
        tail -n 1 "$WORK/$name.out" > "$WORK/$name.json"
    else
        local rc=$?
        python3 - "$WORK/$name.err" "$rc" > "$WORK/$name.json" <<'EOF'
import json, sys
err = open(sys.argv[1], errors="replace").read().strip().splitlines()
print(json.dumps({"error": f"exit {sys.argv[2]}", "stderr_tail": err[-12:]}))
EOF
    fi
    echo "   $(( $(date +%s) - t0 )) s" >&2
}

step parity  "$BIN/bench_gpu" "${DEV[@]}" parity
step attention "$BIN/bench_gpu" "${DEV[@]}" attention "${ATT[@]}"
step forward "$BIN/bench_gpu" "${DEV[@]}" forward "${MODEL[@]}" "${FWD[@]}"

# diffusers on the same config, when this machine has it (never a guessed figure otherwise).
TORCH_DEVICE=cuda
[ "$DRY" = 1 ] && TORCH_DEVICE=cpu
if python3 -c "import torch, diffusers; assert '$TORCH_DEVICE' == 'cpu' or torch.cuda.is_available()" 2>/dev/null; then
    for f in "${FRAMES[@]}"; do
        step "torch_f$f" python3 "$REPO/tools/reference/bench_transformer.py" "${TORCH_ARGS[@]}" \
            --frames "$f" --batch 2 --device "$TORCH_DEVICE" --warmup 1 --iters 2 \
            --in-channels 36 --out-channels 16
    done
else
    why=$(python3 -c "import torch, diffusers" 2>&1 | tail -1)
    [ -z "$why" ] && why="torch sees no CUDA GPU"
    python3 -c 'import json,sys; print(json.dumps({"unavailable": sys.argv[1]}))' "$why" > "$WORK/torch_f0.json"
fi

step recipes "$BIN/bench_gpu" "${DEV[@]}" recipes "${MODEL[@]}" "${REC[@]}"

python3 - "$WORK" "$OUT" "$DRY" "$BIN" <<'EOF'
import glob, json, os, subprocess, sys, time
work, out, dry, bindir = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
def load(name):
    try:
        return json.load(open(os.path.join(work, name + ".json")))
    except Exception as e:
        return {"error": f"no output ({e})"}
torch = {}
for p in sorted(glob.glob(os.path.join(work, "torch_f*.json"))):
    name = os.path.basename(p)[:-5]
    torch[name] = load(name)
try:
    commit = subprocess.run(["git", "-C", os.path.dirname(out) or ".", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
except Exception:
    commit = ""
report = {
    "kind": "cpu dry run (tiny config; not GPU figures)" if dry else "gpu check",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "binaries": bindir,
    "commit": commit,
    "parity": load("parity"),
    "attention": load("attention"),
    "forward": load("forward"),
    "diffusers": torch,
    "recipes": load("recipes"),
}
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
json.dump(report, open(out, "w"), indent=1)

def gib(m):
    if not m or m.get("peak_in_use") is None:
        return "-"
    return f"{m['peak_in_use'] / 2**30:.2f} GiB"
print(f"# {report['kind']} - {report['date']} - {bindir}")
p = report["parity"]
if "result" in p:
    r = p["result"]
    print(f"\nparity on {p['device']}: max frame diff {r['max_diff']:.2e} (tolerance {r['tolerance']}) -> {'PASS' if r['pass'] else 'FAIL'}")
    for row in r["runs"]:
        print(f"  {row['case']}/{row['run']}: device vs CPU {row['device_vs_cpu']:.2e}, device vs diffusers {row['device_vs_diffusers']:.2e}")
else:
    print(f"\nparity: {p}")
a = report["attention"]
print("\n| attention | shape | requested | ran | seconds | max diff vs naive |")
print("|---|---|---|---|---|---|")
if "result" in a:
    for row in a["result"]["runs"]:
        d = row["max_diff_vs_naive"]
        print(f"| {a['result']['dtype']} | {row['shape']} | {row['requested']} | {row['ran']} | {row['seconds']:.4f} | {'-' if d is None else f'{d:.2e}'} |")
    print(f"attention: max diff {a['result']['max_diff']:.2e} (tolerance {a['result']['tolerance']}) -> {'PASS' if a['result']['pass'] else 'FAIL'}")
else:
    print(f"| error | | | | | |\n{a}")
f = report["forward"]
print("\n| forward (CFG batch 2) | latent frames | tokens/sample | PhysEdit s | PhysEdit peak | diffusers s | diffusers peak | ratio |")
print("|---|---|---|---|---|---|---|---|")
if "result" in f:
    r = f["result"]
    for row in r["runs"]:
        t = torch.get(f"torch_f{row['latent_frames']}", {})
        ts = t.get("seconds_per_forward")
        tp = t.get("peak_memory_bytes")
        ts_s = f"{ts:.3f}" if ts else "-"
        tp_s = f"{tp / 2**30:.2f} GiB" if tp else "-"
        ratio = f"{row['seconds'] / ts:.2f}x" if ts else "-"
        print(f"| {f['device']} {r['dtype']} attention {r['attention']} | {row['latent_frames']} | {row['tokens_per_sample']} | "
              f"{row['seconds']:.3f} | {gib(row['memory'])} | {ts_s} | {tp_s} | {ratio} |")
else:
    print(f"| error | | | | | | | |\n{f}")
if "torch_f0" in torch:
    print(f"diffusers: not run ({torch['torch_f0'].get('unavailable')})")
rc = report["recipes"]
print("\n| recipe | tier | steps | N_r | frames | tokens | seconds | denoise s | peak |")
print("|---|---|---|---|---|---|---|---|---|")
if "result" in rc:
    for row in rc["result"]["runs"]:
        print(f"| {row['recipe']} | {row['tier']} | {row['steps']} | {row['reasoning_steps']} | {row['num_frames']} | "
              f"{row['tokens']} | {row['seconds']:.2f} | {row['denoise_s']:.2f} | {gib(row['memory'])} |")
else:
    print(f"| error | | | | | | | | |\n{rc}")
print(f"\nJSON: {out}")
failed = [k for k in ("parity", "attention", "forward", "recipes") if "result" not in report[k]]
for k in ("parity", "attention"):
    if "result" in report[k] and not report[k]["result"]["pass"]:
        failed.append(f"{k} tolerance")
if failed:
    print(f"FAILED: {', '.join(failed)}")
    sys.exit(1)
EOF
