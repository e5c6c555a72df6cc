#!/usr/bin/env bash
# Builds PhysEdit for NVIDIA GPUs on a fresh Debian 12 (bookworm) x86-64 machine:
#   1. installs nvcc (Debian's nvidia-cuda-toolkit, CUDA 11.8) after adding the `contrib non-free`
#      components to the apt sources, unless an nvcc is already on the PATH;
#   2. builds `--features cuda` and `--features flash-attn` in release, every binary of the crate;
#   3. copies the binaries to $DIST (physedit-cuda/, physedit-flash-attn/) and prints the time of
#      each step, the CUDA libraries each binary needs, and what the flash-attention library holds.
#
# Usage (as root, or with sudo for the apt step):
#   tools/gpu/build.sh                    # install nvcc if missing, build both features
#   tools/gpu/build.sh --no-install       # build only (nvcc must be on the PATH)
#   tools/gpu/build.sh --install          # run the apt step even when an nvcc is on the PATH
#   tools/gpu/build.sh --only cuda        # one feature: cuda | flash-attn
# Environment:
#   CUDA_COMPUTE_CAP   default 80 (see below)
#   CARGO_TARGET_DIR   default <repo>/target/gpu (kept apart from the CPU build's target/)
#   DIST               default $CARGO_TARGET_DIR/dist
#   NICE               niceness of the builds (default 0; 19 on a shared machine)
#   CUTLASS_GIT        a git repository (path or URL) holding CUTLASS commit 7d49e6c7 (v3.5.0), for
#                      machines that cannot reach github.com: candle-flash-attn's build fetches CUTLASS
#                      from GitHub into ~/.cudaforge/git/checkouts/ otherwise.
#
# Target GPUs. Debian's CUDA 11.8 rejects candle's `compute_90a` target (what CUDA_COMPUTE_CAP=90
# asks for; the `a` targets arrived with CUDA 12.0), so the default is CUDA_COMPUTE_CAP=80:
#  - candle's own kernels are PTX for compute_80, which the driver JIT-compiles for any newer GPU
#    (Ampere, Ada, Hopper) when the module loads; except candle's GGUF/MoE kernels, built as sm_80
#    machine code, which PhysEdit does not use;
#  - the flash-attention kernels are different: candle-flash-attn compiles them with
#    `-gencode=arch=compute_80,code=sm_80`, i.e. sm_80 machine code only and NO PTX, and sm_80 machine
#    code runs on compute capability 8.x GPUs only (A100, A10, RTX 30xx/40xx, L4, L40), not on Hopper
#    (H100/H200, 9.0): there the kernels would fail to load ("no kernel image is available"). This
#    script therefore also embeds compute_80 PTX in the flash-attention objects
#    (NVCC_APPEND_FLAGS=-gencode=arch=compute_80,code=compute_80; nvcc compiles the same virtual
#    architecture once, so this costs little), which the driver JIT-compiles for Hopper at first use
#    (set CUDA_MODULE_LOADING=LAZY so that only the kernels used are compiled, and CUDA_CACHE_MAXSIZE
#    large enough to keep them; tools/gpu/check.sh does). Checked below with cuobjdump.
#    Whether that PTX runs on a Hopper GPU has not been run here (no GPU): it is what the CUDA
#    compatibility rules say, not a measurement. Native Hopper code (sm_90) needs a GPU build with
#    NVCC_APPEND_FLAGS=-gencode=arch=compute_90,code=sm_90 (CUDA 11.8 knows plain sm_90; about twice
#    the flash-attention compile time).
#
# Runtime libraries. The binaries link the CUDA libraries of the toolkit they were built with (CUDA
# 11.8 here, as ldd lists them for the cuda build: libcublas.so.11, libcublasLt.so.11, libcurand.so.10,
# libcudart.so.11.0, and the driver's libcuda.so.1). The machine that runs the binary needs those very sonames (they carry
# versioned symbols: a CUDA 12/13 library renamed will not do). The script lists them per binary.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
INSTALL=1
ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --install) INSTALL=2 ;;
        --only) ONLY="${2:?--only needs cuda or flash-attn}"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in ""|cuda|flash-attn) ;; *) echo "build.sh: --only takes cuda or flash-attn" >&2; exit 2 ;; esac

export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target/gpu}"
DIST="${DIST:-$CARGO_TARGET_DIR/dist}"
NICE="${NICE:-0}"
CUTLASS_COMMIT=7d49e6c7e2f8896c47f586706e67e1fb215529dc
mkdir -p "$DIST"
TIMES="$DIST/build-times.txt"
: > "$TIMES"

now() { date +%s; }
record() { # name seconds
    printf '%-28s %5d s  (%dm%02ds)\n' "$1" "$2" $(($2 / 60)) $(($2 % 60)) | tee -a "$TIMES"
}

# --- 1. nvcc ------------------------------------------------------------------------------------
if [ "$INSTALL" = 2 ] || { [ "$INSTALL" = 1 ] && ! command -v nvcc >/dev/null; }; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    t0=$(now)
    # Debian ships the CUDA toolkit in `non-free` (and its helpers in `contrib`): add both
    # components to every Debian source, in either sources format.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        $SUDO sed -i -E '/^Components:/{/non-free( |$)/!s/$/ contrib non-free non-free-firmware/}' \
            /etc/apt/sources.list.d/debian.sources
    fi
    if [ -f /etc/apt/sources.list ]; then
        $SUDO sed -i -E '/^deb .*debian/{/ non-free( |$)/!s/$/ contrib non-free non-free-firmware/}' \
            /etc/apt/sources.list
    fi
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
        nvidia-cuda-toolkit git
    record "install nvidia-cuda-toolkit" $(($(now) - t0))
fi
command -v nvcc >/dev/null || { echo "build.sh: no nvcc on the PATH (run without --no-install as root)" >&2; exit 1; }
echo "nvcc: $(nvcc --version | tail -1)"
echo "CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP  CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# --- CUTLASS for candle-flash-attn (fetched from GitHub by its build unless already cached) -------
if [ -n "${CUTLASS_GIT:-}" ] && [ "$ONLY" != cuda ]; then
    dest="${CUDAFORGE_HOME:-$HOME/.cudaforge}/git/checkouts/cutlass-${CUTLASS_COMMIT:0:16}"
    if [ "$(git -C "$dest" rev-parse HEAD 2>/dev/null)" != "$CUTLASS_COMMIT" ]; then
        rm -rf "$dest"
        mkdir -p "$(dirname "$dest")"
        git clone -q --no-checkout "$CUTLASS_GIT" "$dest"
        # Only the headers are needed; a mirror without large media blobs is fine.
        git -C "$dest" checkout -q "$CUTLASS_COMMIT" -- include tools/util/include
        git -C "$dest" update-ref --no-deref HEAD "$CUTLASS_COMMIT"
    fi
    echo "CUTLASS: $dest"
fi

# --- 2. builds ------------------------------------------------------------------------------------
build() { # feature
    local feature="$1" t0 extra=()
    t0=$(now)
    if [ "$feature" = flash-attn ]; then
        # Embed compute_80 PTX next to the sm_80 code (see the header). nvcc reads this variable for
        # every compile of the step: candle's PTX builds are unaffected, its GGUF/MoE objects gain PTX.
        extra=(env "NVCC_APPEND_FLAGS=${NVCC_APPEND_FLAGS:--gencode=arch=compute_80,code=compute_80}")
    fi
    echo "== cargo build --release --locked --features $feature --bins"
    (cd "$REPO" && ${extra[@]+"${extra[@]}"} nice -n "$NICE" \
        cargo build --release --locked --features "$feature" --bins)
    record "build --features $feature" $(($(now) - t0))
    mkdir -p "$DIST/physedit-$feature"
    for b in physedit bench_gpu bench_engine bench_recipes bench_attention; do
        cp "$CARGO_TARGET_DIR/release/$b" "$DIST/physedit-$feature/"
    done
    echo "-- CUDA libraries $DIST/physedit-$feature/physedit needs:"
    ldd "$DIST/physedit-$feature/physedit" | grep -E 'libcu|nvrtc' || true
}

[ "$ONLY" = flash-attn ] || build cuda
if [ "$ONLY" != cuda ]; then
    build flash-attn
    lib=$(ls -t "$CARGO_TARGET_DIR"/release/build/candle-flash-attn-*/out/libflashattention.a 2>/dev/null | head -1 || true)
    if [ -n "$lib" ] && command -v cuobjdump >/dev/null; then
        elf=$(cuobjdump --list-elf "$lib" 2>/dev/null | grep -c cubin || true)
        ptx=$(cuobjdump --list-ptx "$lib" 2>/dev/null | grep -c '\.ptx' || true)
        archs=$(cuobjdump --list-elf --list-ptx "$lib" 2>/dev/null | grep -oE 'sm_[0-9]+a?' | sort -u | tr '\n' ' ')
        echo "-- $lib: $elf machine-code images, $ptx PTX images ($archs)" | tee -a "$TIMES"
        if [ "$ptx" = 0 ]; then
            echo "   no PTX: these flash-attention kernels run only on GPUs of the compute capability they were built for" | tee -a "$TIMES"
        fi
    fi
fi
echo "== done; binaries in $DIST, times in $TIMES"
cat "$TIMES"
