#!/usr/bin/env bash
# Builds PhysEdit for NVIDIA GPUs on a fresh Debian 12 (bookworm) x86-64 machine without a GPU:
#   1. provides nvcc, from one of two toolkits (--toolkit):
#      pypi   (default) CUDA 13.0 from NVIDIA's PyPI wheels (nvcc, headers, cuBLAS, cuRAND, NVRTC),
#             unpacked into $CUDA_DIR; for machines whose driver is >= 580 (CUDA 13), such as
#             current PyTorch cu13 images. Native Hopper code (CUDA_COMPUTE_CAP=90 -> sm_90a).
#      debian Debian's nvidia-cuda-toolkit (CUDA 11.8) after adding the `contrib non-free`
#             components to the apt sources (needs root); for machines with CUDA 11 libraries.
#             CUDA_COMPUTE_CAP=80 (see "Debian's CUDA 11.8" below).
#   2. builds `--features cuda` and `--features flash-attn` in release, every binary of the crate;
#   3. copies the binaries to $DIST (physedit-cuda/, physedit-flash-attn/), packs bench_gpu
#      of each into $DIST/physedit-<feature>.tar.xz (what tools/gpu/check.sh --bin takes on a GPU
#      machine), and prints the time of each step and the CUDA libraries each binary needs.
#
# Usage:
#   tools/gpu/build.sh                       # CUDA 13.0 from PyPI, both features
#   tools/gpu/build.sh --only flash-attn     # one feature: cuda | flash-attn (flash-attn implies cuda)
#   tools/gpu/build.sh --only toolkit        # provide nvcc, build nothing
#   sudo tools/gpu/build.sh --toolkit debian # CUDA 11.8 from apt (installed unless nvcc is on the PATH)
#   tools/gpu/build.sh --no-install          # build only, with the nvcc on the PATH
# Environment:
#   CUDA_DIR           where the PyPI toolkit goes (default ~/.cache/physedit/cuda-13.0)
#   CUDA_COMPUTE_CAP   default 90 (pypi) or 80 (debian)
#   CARGO_TARGET_DIR   default <repo>/target/gpu (kept apart from the CPU build's target/)
#   DIST               default $CARGO_TARGET_DIR/dist
#   NICE               niceness of the builds (default 0; 19 on a shared machine)
#   CUDAFORGE_THREADS  parallel nvcc jobs for the flash-attention kernels (default: all cores; the
#                      crate's own default is half of them, one on a 2-core machine)
#   CUTLASS_GIT        a git repository (path or URL) holding CUTLASS commit 7d49e6c7 (v3.5.0), for
#                      machines that cannot reach github.com: candle-flash-attn's build fetches CUTLASS
#                      from GitHub into ~/.cudaforge/git/checkouts/ otherwise.
#
# The flash-attention build compiles 53 kernel files (head dims 32..512, fp16/bf16, causal or not,
# split-KV), a few minutes each per core: it is the long part (see BENCHMARKS.md for measured times).
#
# CUDA 13.0 from PyPI. The wheels hold no `libcuda.so` (the driver's library) to link against, so
# the script writes a link-time stub exporting the driver API's function names (read from the
# toolkit's cuda.h), with the driver's soname `libcuda.so.1`, as the toolkit installers' stubs/ folder
# does; at run time the real driver library is loaded. 13.0 rather than a newer 13.x: candle loads its
# kernels as PTX, and a driver JIT-compiles only PTX versions it knows (driver 580 = CUDA 13.0).
# The binaries need libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libcudart.so.13 and
# libnvrtc.so.13 at run time: a PyTorch cu13 installation has them (check.sh finds them there).
#
# Debian's CUDA 11.8. It rejects candle's `compute_90a` target (what CUDA_COMPUTE_CAP=90 asks for;
# the `a` targets arrived with CUDA 12.0), so the default is CUDA_COMPUTE_CAP=80:
#  - candle's own kernels are PTX for compute_80, which the driver JIT-compiles for any newer GPU
#    (Ampere, Ada, Hopper) when the module loads;
#  - candle-flash-attn compiles `-gencode=arch=compute_80,code=sm_80`, sm_80 machine code and no PTX,
#    which runs on compute capability 8.x only, not on Hopper. The script therefore also embeds
#    compute_80 PTX (NVCC_APPEND_FLAGS=-gencode=arch=compute_80,code=compute_80), which the driver
#    JIT-compiles for Hopper at first use (check.sh sets CUDA_MODULE_LOADING=LAZY). That PTX has not
#    been run on a Hopper GPU here: it is what the CUDA compatibility rules say, not a measurement.
#  - the binaries link libcublas.so.11, libcublasLt.so.11, libcurand.so.10 and libcudart.so.11.0; a
#    machine with only CUDA 12/13 libraries cannot run them (versioned symbols; libcublasLt.so.11 is
#    548 MB, too large to carry along).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
INSTALL=1
ONLY=""
TOOLKIT=pypi
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --install) INSTALL=2 ;;
        --toolkit) TOOLKIT="${2:?--toolkit needs pypi or debian}"; shift ;;
        --only) ONLY="${2:?--only needs cuda or flash-attn}"; shift ;;
        -h|--help) sed -n '2,/^set -/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$ONLY" in ""|cuda|flash-attn|toolkit) ;; *) echo "build.sh: --only takes cuda, flash-attn or toolkit" >&2; exit 2 ;; esac
case "$TOOLKIT" in pypi|debian) ;; *) echo "build.sh: --toolkit takes pypi or debian" >&2; exit 2 ;; esac

if [ "$TOOLKIT" = pypi ]; then
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
else
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target/gpu}"
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"
DIST="${DIST:-$CARGO_TARGET_DIR/dist}"
NICE="${NICE:-0}"
CUTLASS_COMMIT=7d49e6c7e2f8896c47f586706e67e1fb215529dc
mkdir -p "$DIST"
TIMES="$DIST/build-times.txt"
: > "$TIMES"

now() { date +%s; }
record() { # name seconds
    printf '%-32s %5d s  (%dm%02ds)\n' "$1" "$2" $(($2 / 60)) $(($2 % 60)) | tee -a "$TIMES"
}

# --- 1a. CUDA 13.0 from PyPI ------------------------------------------------------------------------
# Wheel versions of the CUDA 13.0 release (cuRAND keeps its own numbering; its soname is .so.10).
PYPI_WHEELS=(
    "nvidia-cuda-nvcc==13.0.88" "nvidia-cuda-crt==13.0.88" "nvidia-nvvm==13.0.88"
    "nvidia-cuda-runtime==13.0.96" "nvidia-cuda-cccl==13.0.85" "nvidia-cuda-nvrtc==13.0.88"
    "nvidia-cublas==13.0.2.14" "nvidia-curand==10.4.0.35"
    # Only to inspect the built objects (the oldest cuobjdump wheel; it reads 13.0 objects).
    "nvidia-cuda-cuobjdump==13.2.51"
)
install_pypi() {
    local dir="$1" t0 wheels
    t0=$(now)
    command -v python3 >/dev/null || { echo "build.sh: python3 is needed to fetch the CUDA wheels" >&2; exit 1; }
    python3 -m pip --version >/dev/null 2>&1 || {
        echo "build.sh: python3 has no pip (Debian: apt-get install python3-pip)" >&2; exit 1; }
    wheels="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" "${PYPI_WHEELS[@]}"
    rm -rf "$dir.partial"
    mkdir -p "$dir.partial"
    for w in "$wheels"/*.whl; do
        python3 -m zipfile -e "$w" "$dir.partial/wheels"
    done
    rm -rf "$wheels"
    # The wheels' nvidia/cu13/{bin,include,lib,nvvm} become a toolkit folder in the usual layout.
    cp -a "$dir.partial/wheels/nvidia/cu13/." "$dir.partial/"
    rm -rf "$dir.partial/wheels"
    chmod +x "$dir.partial"/bin/* "$dir.partial"/nvvm/bin/* 2>/dev/null || true
    mv "$dir.partial/lib" "$dir.partial/lib64"
    ln -s lib64 "$dir.partial/lib"
    mkdir -p "$dir.partial/targets/x86_64-linux"
    ln -s ../../include "$dir.partial/targets/x86_64-linux/include"
    ln -s ../../lib64 "$dir.partial/targets/x86_64-linux/lib"
    (cd "$dir.partial/lib64"
     for l in cublas cublasLt cudart nvrtc; do ln -sf "lib$l.so.13" "lib$l.so"; done
     ln -sf libcurand.so.10 libcurand.so)
    # Link-time stub of the driver library (see the header): every driver API function of cuda.h,
    # under the name the header maps it to (cuMemAlloc -> cuMemAlloc_v2, ...).
    mkdir -p "$dir.partial/lib64/stubs"
    echo '#include <cuda.h>' | gcc -E -I"$dir.partial/include" -x c - | tr '\n' ' ' |
        grep -oE 'CUresult +cu[A-Za-z0-9_]+ *\(' | grep -oE 'cu[A-Za-z0-9_]+' | sort -u |
        sed 's/.*/void &(void) {}/' > "$dir.partial/lib64/stubs/libcuda_stub.c"
    [ -s "$dir.partial/lib64/stubs/libcuda_stub.c" ] || { echo "build.sh: no driver API functions found in cuda.h" >&2; exit 1; }
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$dir.partial/lib64/stubs/libcuda.so" \
        "$dir.partial/lib64/stubs/libcuda_stub.c"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
    "$dir/bin/nvcc" --version | tail -1 > "$dir/VERSION"
    record "install CUDA 13.0 (PyPI wheels)" $(($(now) - t0))
}

if [ "$TOOLKIT" = pypi ]; then
    CUDA_DIR="${CUDA_DIR:-$HOME/.cache/physedit/cuda-13.0}"
    if [ "$INSTALL" = 2 ] || { [ "$INSTALL" = 1 ] && [ ! -x "$CUDA_DIR/bin/nvcc" ]; }; then
        install_pypi "$CUDA_DIR"
    fi
    [ -x "$CUDA_DIR/bin/nvcc" ] || { echo "build.sh: no nvcc in $CUDA_DIR (run without --no-install)" >&2; exit 1; }
    # nvcc, cudarc (link paths, CUDA version) and cudaforge (flash-attention) all read these.
    export CUDA_PATH="$CUDA_DIR" CUDA_HOME="$CUDA_DIR" CUDA_ROOT="$CUDA_DIR" NVCC="$CUDA_DIR/bin/nvcc"
    export PATH="$CUDA_DIR/bin:$PATH"
fi

# --- 1b. CUDA 11.8 from Debian --------------------------------------------------------------------
if [ "$TOOLKIT" = debian ] && { [ "$INSTALL" = 2 ] || { [ "$INSTALL" = 1 ] && ! command -v nvcc >/dev/null; }; }; then
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
# nvcc compiles the host half of every .cu file with the system's C++ compiler.
command -v g++ >/dev/null || { echo "build.sh: nvcc needs g++ (Debian: apt-get install g++)" >&2; exit 1; }
echo "nvcc: $(command -v nvcc): $(nvcc --version | tail -1)"
echo "CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP  CARGO_TARGET_DIR=$CARGO_TARGET_DIR  CUDAFORGE_THREADS=$CUDAFORGE_THREADS"

if [ "$ONLY" = toolkit ]; then
    echo "== toolkit ready"
    exit 0
fi

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
    if [ "$feature" = flash-attn ] && [ "$TOOLKIT" = debian ]; then
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
    LD_LIBRARY_PATH="${CUDA_DIR:+$CUDA_DIR/lib64${LD_LIBRARY_PATH:+:}}${LD_LIBRARY_PATH:-}" \
        ldd "$DIST/physedit-$feature/physedit" | grep -E 'libcu|nvrtc' | tee -a "$TIMES" || true
    # bench_gpu, which runs every step of tools/gpu/check.sh, packed small enough to carry to a GPU
    # machine: the flash-attention build's binaries hold ~260 MB of kernel machine code, which xz
    # compresses about 13x (physedit alone would be as large again, so it stays out).
    t0=$(now)
    XZ_OPT="-9 -T0" tar -cJf "$DIST/physedit-$feature.tar.xz" -C "$DIST" "physedit-$feature/bench_gpu"
    echo "-- packed $DIST/physedit-$feature.tar.xz: $(du -m "$DIST/physedit-$feature.tar.xz" | cut -f1) MiB (bench_gpu $(du -m "$DIST/physedit-$feature/bench_gpu" | cut -f1) MiB unpacked)" | tee -a "$TIMES"
    record "pack $feature" $(($(now) - t0))
}

[ "$ONLY" = flash-attn ] || build cuda
if [ "$ONLY" != cuda ]; then
    build flash-attn
    lib=$(ls -t "$CARGO_TARGET_DIR"/release/build/candle-flash-attn-*/out/libflashattention.a 2>/dev/null | head -1 || true)
    # What the flash-attention library holds: machine code for which GPUs, and PTX or not. Debian's
    # 11.8 cuobjdump cannot read CUDA 13 objects, hence the toolkit's own first.
    objdump=$(command -v "${CUDA_DIR:-/nonexistent}/bin/cuobjdump" cuobjdump 2>/dev/null | head -1 || true)
    if [ -n "$lib" ] && [ -n "$objdump" ]; then
        if listing=$("$objdump" --list-elf --list-ptx "$lib" 2>&1); then
            elf=$(grep -c 'cubin' <<<"$listing" || true)
            ptx=$(grep -c '\.ptx' <<<"$listing" || true)
            archs=$(grep -oE 'sm_[0-9]+a?' <<<"$listing" | sort -u | tr '\n' ' ' || true)
            echo "-- $lib: $elf machine-code images, $ptx PTX images ($archs)" | tee -a "$TIMES"
            if [ "$ptx" = 0 ]; then
                echo "   no PTX: these kernels run only on GPUs of the compute capability they were built for" | tee -a "$TIMES"
            fi
        else
            echo "-- $objdump cannot read $lib: $(tail -1 <<<"$listing")" | tee -a "$TIMES"
        fi
    fi
fi
echo "== done; binaries in $DIST, times in $TIMES"
cat "$TIMES"
