#!/usr/bin/env python
"""Time ChronoEditTransformer3DModel forwards on CPU (the reference for the Rust transformer's speed).

Example (tiny):
    python tools/reference/bench_transformer.py --heads 2 --head-dim 12 --layers 2 --ffn 32 \
        --in-channels 36 --out-channels 16 --text-dim 32 --image-dim 24 --frames 3 --height 4 --width 6 \
        --text-tokens 512 --image-tokens 17 --iters 5 --save /tmp/bench_model

Builds the model with seeded random weights (optionally `save_pretrained` to --save so the Rust side can load
the identical model and inputs: the inputs are written to <save>/inputs.safetensors), runs --warmup
forwards, then times --iters forwards (median reported, plus the minimum) with torch.set_num_threads(--threads) under torch.inference_mode(),
and prints one JSON line: {"seconds_per_forward": ..., "threads": ..., "config": {...}, ...}.
"""

import argparse
import json
import os
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--head-dim", type=int, default=12)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=32)
    ap.add_argument("--in-channels", type=int, default=36)
    ap.add_argument("--out-channels", type=int, default=16)
    ap.add_argument("--text-dim", type=int, default=32)
    ap.add_argument("--image-dim", type=int, default=24)
    ap.add_argument("--freq-dim", type=int, default=256)
    ap.add_argument("--frames", type=int, default=2, help="latent frames")
    ap.add_argument("--height", type=int, default=4, help="latent height (divisible by 2)")
    ap.add_argument("--width", type=int, default=6, help="latent width (divisible by 2)")
    ap.add_argument("--text-tokens", type=int, default=512)
    ap.add_argument("--image-tokens", type=int, default=257)
    ap.add_argument("--timestep", type=float, default=500.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--save", default=None, help="save_pretrained the model (and inputs.safetensors) here")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (attention through torch SDPA either way)")
    ap.add_argument("--batch", type=int, default=1, help="batch size (2: a CFG batch)")
    args = ap.parse_args()

    from diffusers import ChronoEditTransformer3DModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    inner = args.heads * args.head_dim
    config = dict(
        patch_size=(1, 2, 2),
        num_attention_heads=args.heads,
        attention_head_dim=args.head_dim,
        in_channels=args.in_channels,
        out_channels=args.out_channels,
        text_dim=args.text_dim,
        freq_dim=args.freq_dim,
        ffn_dim=args.ffn,
        num_layers=args.layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        image_dim=args.image_dim,
        added_kv_proj_dim=inner,
        rope_max_seq_len=1024,
        pos_embed_seq_len=None,
        rope_temporal_skip_len=8,
    )
    device = torch.device(args.device)
    if device.type == "cuda":
        # Build the weights on the GPU directly (the 14B in bf16 does not need a host copy).
        torch.set_default_device(device)
    model = ChronoEditTransformer3DModel(**config).eval()
    dtype = torch.float32 if args.dtype == "f32" else torch.bfloat16
    if dtype != torch.float32:
        model = model.to(dtype)
        # as from_pretrained(torch_dtype=bf16) does: these modules stay in f32
        keep = getattr(model, "_keep_in_fp32_modules", None) or []
        for name, module in model.named_modules():
            if any(k in name.split(".") for k in keep):
                module.to(torch.float32)

    g = torch.Generator().manual_seed(args.seed + 1)
    b = args.batch
    hs = torch.randn(b, args.in_channels, args.frames, args.height, args.width, generator=g, device="cpu").to(device, dtype)
    ts = torch.tensor([args.timestep] * b, dtype=torch.float32, device=device)
    ehs = torch.randn(b, args.text_tokens, args.text_dim, generator=g, device="cpu").to(device, dtype)
    ehi = torch.randn(b, args.image_tokens, args.image_dim, generator=g, device="cpu").to(device, dtype)

    if args.save:
        from safetensors.torch import save_file

        model.save_pretrained(args.save, safe_serialization=True)
        save_file(
            {
                "hidden_states": hs.contiguous(),
                "timestep": ts,
                "encoder_hidden_states": ehs.contiguous(),
                "encoder_hidden_states_image": ehi.contiguous(),
            },
            os.path.join(args.save, "inputs.safetensors"),
        )

    def fwd():
        return model(
            hidden_states=hs, timestep=ts, encoder_hidden_states=ehs, encoder_hidden_states_image=ehi,
            return_dict=False,
        )[0]

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        out = None
        for _ in range(args.warmup):
            out = fwd()
        sync()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        cpu_times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            c0 = time.process_time()
            out = fwd()
            sync()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)

    if args.save:
        from safetensors.torch import save_file

        save_file({"output": out.float().contiguous()}, os.path.join(args.save, "output.safetensors"))

    tokens = args.frames * (args.height // 2) * (args.width // 2)
    config["patch_size"] = list(config["patch_size"])
    print(
        json.dumps(
            {
                "seconds_per_forward": statistics.median(times),
                "seconds_min": min(times),
                "cpu_seconds_per_forward": statistics.median(cpu_times),
                "seconds_all": times,
                "threads": args.threads,
                "dtype": args.dtype,
                "tokens": tokens,
                "latent_shape": [b, args.in_channels, args.frames, args.height, args.width],
                "text_tokens": args.text_tokens,
                "image_tokens": args.image_tokens,
                "params": sum(p.numel() for p in model.parameters()),
                "torch": torch.__version__,
                "device": str(device),
                "batch": b,
                "peak_memory_bytes": torch.cuda.max_memory_allocated() if device.type == "cuda" else None,
                "config": config,
            }
        )
    )


if __name__ == "__main__":
    main()
