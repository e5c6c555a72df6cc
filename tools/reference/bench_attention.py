"""Times torch.nn.functional.scaled_dot_product_attention on the CPU for the shapes given.

Usage: bench_attention.py --threads 2 --dtype f32 --reps 5 --shape B,H,Sq,Sk,D [--shape ...]
Prints one JSON object per shape: {"shape": [B, H, Sq, Sk, D], "dtype": ..., "min_s": ...}.
"""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--shape", action="append", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    torch.manual_seed(0)
    for s in a.shape:
        b, h, sq, sk, d = (int(x) for x in s.split(","))
        q = torch.randn(b, h, sq, d).to(dtype)
        k = torch.randn(b, h, sk, d).to(dtype)
        v = torch.randn(b, h, sk, d).to(dtype)
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(q, k, v)  # warm-up
            best = float("inf")
            for _ in range(a.reps):
                t0 = time.perf_counter()
                torch.nn.functional.scaled_dot_product_attention(q, k, v)
                best = min(best, time.perf_counter() - t0)
        print(json.dumps({"shape": [b, h, sq, sk, d], "dtype": a.dtype, "min_s": best}), flush=True)


if __name__ == "__main__":
    main()
