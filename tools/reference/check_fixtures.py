#!/usr/bin/env python
"""Check the committed fixtures: every pipeline folder loads back with diffusers, holds only safetensors
weights, and reference.safetensors has the tensors FIXTURES.md lists. Re-runs one short pipeline call per
case from the stored inputs and compares with the stored frames. Prints sizes.

    python tools/reference/check_fixtures.py
"""

import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures")
PICKLE_EXT = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

COMPONENT_KEYS = [
    "transformer.hidden_states", "transformer.timestep", "transformer.encoder_hidden_states",
    "transformer.encoder_hidden_states_image", "transformer.output",
    "transformer_2f.hidden_states", "transformer_2f.timestep", "transformer_2f.encoder_hidden_states",
    "transformer_2f.encoder_hidden_states_image", "transformer_2f.output",
    "vae.encode.input", "vae.encode.mean", "vae.encode.logvar", "vae.decode.input", "vae.decode.output",
    "umt5.input_ids", "umt5.attention_mask", "umt5.last_hidden_state",
    "clip.pixel_values", "clip.penultimate", "clip.last_hidden_state",
]
RUN_KEYS = ["latents", "prompt_embeds", "image_embeds", "condition", "final_latents", "frames", "timesteps"]


def size_of(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def check_case(name):
    from diffusers import ChronoEditPipeline

    d = os.path.join(FIXTURES, name)
    pipe_dir = os.path.join(d, "pipeline")
    bad = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith(PICKLE_EXT)]
    assert not bad, f"pickle files: {bad}"
    for sub in ("transformer", "vae", "text_encoder", "image_encoder"):
        files = os.listdir(os.path.join(pipe_dir, sub))
        assert any(f.endswith(".safetensors") for f in files), (name, sub, files)
    pipe = ChronoEditPipeline.from_pretrained(pipe_dir, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    ref = load_file(os.path.join(d, "reference.safetensors"))
    meta = json.load(open(os.path.join(d, "meta.json")))
    missing = [k for k in COMPONENT_KEYS if k not in ref]
    for i in range(len(meta["tokenizer_strings"])):
        missing += [k for k in (f"tokenizer.ids.{i}", f"tokenizer.mask.{i}") if k not in ref]
    for rname, run in meta["runs"].items():
        missing += [f"run.{rname}.{k}" for k in RUN_KEYS if f"run.{rname}.{k}" not in ref]
        if run["guidance"] > 1 and f"run.{rname}.negative_prompt_embeds" not in ref:
            missing.append(f"run.{rname}.negative_prompt_embeds")
    assert not missing, (name, missing)

    # Re-run the first run from the stored latents and compare frames.
    rname, run = next(iter(meta["runs"].items()))
    image = Image.open(os.path.join(d, "input.png")).convert("RGB")
    assert (image.height, image.width) == (meta["height"], meta["width"])
    if run["enable_temporal_reasoning"] and run["num_temporal_reasoning_steps"] < run["steps"]:
        if not hasattr(pipe.scheduler, "model_outputs"):
            pipe.scheduler.model_outputs, pipe.scheduler.last_sample = [], None
    with torch.no_grad():
        frames = pipe(
            image=image, prompt=run["prompt"], negative_prompt=run["negative_prompt"], height=run["height"],
            width=run["width"], num_frames=run["num_frames"], num_inference_steps=run["steps"],
            guidance_scale=run["guidance"], latents=ref[f"run.{rname}.latents"].clone(), output_type="np",
            enable_temporal_reasoning=run["enable_temporal_reasoning"],
            num_temporal_reasoning_steps=run["num_temporal_reasoning_steps"],
        ).frames[0]
    frames = torch.from_numpy(np.asarray(frames)).permute(0, 3, 1, 2)
    err = (frames - ref[f"run.{rname}.frames"]).abs().max().item()
    assert err < 1e-5, (name, rname, err)
    return f"{name}: {size_of(d) / 1e6:.2f} MB, {len(ref)} tensors, rerun {rname} max|diff| {err:.2e}"


def main():
    lines = []
    for name in ("tiny_a", "tiny_b", "heldout"):
        lines.append(check_case(name))
    sd = os.path.join(FIXTURES, "schedulers")
    ref = load_file(os.path.join(sd, "reference.safetensors"))
    meta = json.load(open(os.path.join(sd, "meta.json")))
    for cfg, m in meta["configs"].items():
        for i in range(m["steps"]):
            assert f"sched.{cfg}.prev_sample.{i}" in ref and f"sched.{cfg}.model_output.{i}" in ref, (cfg, i)
    lines.append(f"schedulers: {size_of(sd) / 1e6:.2f} MB, {len(meta['configs'])} configs")
    print("\n".join(lines))
    print(f"total: {size_of(FIXTURES) / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
