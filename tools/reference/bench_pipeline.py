#!/usr/bin/env python
"""Time one whole ChronoEdit edit with diffusers on CPU, for a saved pipeline folder.

    python tools/reference/bench_pipeline.py tests/fixtures/tiny_a/pipeline \
        --image tests/fixtures/tiny_a/input.png --prompt "Turn the apple yellow." --steps 4

Height/width default to the image size. Prints one JSON line with the total seconds and the time spent in
each component (text encoder, image encoder, transformer, VAE encode / decode), the transformer call count,
and the settings. --warmup runs whole edits first (not timed). Optional --out writes the frames (F,3,H,W) to a
safetensors file.
"""

import argparse
import json
import time
from collections import defaultdict

import torch
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pipeline")
    ap.add_argument("--image", required=True)
    ap.add_argument("--prompt", default="Turn the red apple into a yellow banana.")
    ap.add_argument("--negative-prompt", default="")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--guidance", type=float, default=5.0)
    ap.add_argument("--num-frames", type=int, default=5)
    ap.add_argument("--reasoning", action="store_true", help="enable_temporal_reasoning")
    ap.add_argument("--reasoning-steps", type=int, default=0, help="num_temporal_reasoning_steps")
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from diffusers import ChronoEditPipeline

    torch.set_num_threads(args.threads)
    pipe = ChronoEditPipeline.from_pretrained(args.pipeline, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = Image.open(args.image).convert("RGB")
    height = args.height or image.height
    width = args.width or image.width

    spent = defaultdict(float)
    calls = defaultdict(int)

    def timed(obj, attr, key):
        orig = getattr(obj, attr)

        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return orig(*a, **kw)
            finally:
                spent[key] += time.perf_counter() - t0
                calls[key] += 1

        setattr(obj, attr, wrapper)

    timed(pipe.text_encoder, "forward", "text_encoder")
    timed(pipe.image_encoder, "forward", "image_encoder")
    timed(pipe.transformer, "forward", "transformer")
    timed(pipe.vae, "encode", "vae_encode")
    timed(pipe.vae, "decode", "vae_decode")

    def edit():
        g = torch.Generator().manual_seed(args.seed)
        return pipe(
            image=image,
            prompt=args.prompt,
            negative_prompt=args.negative_prompt,
            height=height,
            width=width,
            num_frames=args.num_frames,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            generator=g,
            output_type="np",
            enable_temporal_reasoning=args.reasoning,
            num_temporal_reasoning_steps=args.reasoning_steps,
        ).frames[0]

    with torch.inference_mode():
        for _ in range(args.warmup):
            edit()
        spent.clear()
        calls.clear()
        t0 = time.perf_counter()
        frames = edit()
        total = time.perf_counter() - t0

    if args.out:
        from safetensors.torch import save_file

        save_file({"frames": torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous()}, args.out)

    print(
        json.dumps(
            {
                "seconds": total,
                "component_seconds": dict(spent),
                "component_calls": dict(calls),
                "threads": args.threads,
                "pipeline": args.pipeline,
                "height": height,
                "width": width,
                "steps": args.steps,
                "guidance": args.guidance,
                "num_frames": args.num_frames,
                "enable_temporal_reasoning": args.reasoning,
                "num_temporal_reasoning_steps": args.reasoning_steps,
                "output_frames": int(frames.shape[0]),
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
