"""Times torch.nn.functional.scaled_dot_product_attention on the CPU, one call per request.

Usage: bench_attention.py --threads T --dtype f32|f16|bf16
Then reads request lines "B,H,Sq,Sk,D" on stdin; for each it runs one attention call on random
tensors of that shape (created, and warmed up, on the first request for the shape) and prints
{"shape": [...], "wall_s": ..., "cpu_s": ...} (cpu_s: process CPU time, all threads) on stdout.
This lets the caller interleave torch calls with its own so that load changes on a shared machine
affect both alike.
"""
import argparse
import json
import sys
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    torch.manual_seed(0)
    cache = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        shape = tuple(int(x) for x in line.split(","))
        b, h, sq, sk, d = shape
        with torch.no_grad():
            if shape not in cache:
                q = torch.randn(b, h, sq, d).to(dtype)
                k = torch.randn(b, h, sk, d).to(dtype)
                v = torch.randn(b, h, sk, d).to(dtype)
                cache[shape] = (q, k, v)
                torch.nn.functional.scaled_dot_product_attention(q, k, v)  # warm-up
            q, k, v = cache[shape]
            c0, t0 = time.process_time(), time.perf_counter()
            torch.nn.functional.scaled_dot_product_attention(q, k, v)
            t1, c1 = time.perf_counter(), time.process_time()
        print(json.dumps({"shape": list(shape), "wall_s": t1 - t0, "cpu_s": c1 - c0}), flush=True)


if __name__ == "__main__":
    main()
