#!/usr/bin/env python
"""Write tiny random LoRAs for the tiny_a pipeline and what diffusers computes with them fused.

Run with the reference venv (see README.md; needs `peft` too):

    python tools/reference/make_lora_fixtures.py

Reads the committed tests/fixtures/tiny_a/ (pipeline folder, input.png, meta.json, the `plain` run's initial
latents from reference.safetensors) and writes tests/fixtures/lora/:

  peft.safetensors   diffusers/PEFT layout (`transformer.blocks.N.attn1.to_q.lora_A.weight`), written with
                     `ChronoEditPipeline.save_lora_weights`, LoRA config (r, lora_alpha, rank_pattern,
                     alpha_pattern) in the `lora_adapter_metadata` entry of the safetensors metadata
  wan.safetensors    original Wan / ComfyUI layout (`diffusion_model.blocks.N.self_attn.q.lora_down.weight`,
                     `lora_up.weight`, `alpha` scalars with alpha != rank)
  reference.safetensors, meta.json   for each LoRA: the fused transformer weights of the touched layers and
                     the frames of tiny_a's `plain` run after `load_lora_weights` + `fuse_lora(lora_scale=0.7)`

Everything is f32 on CPU and seeded; re-running reproduces the same files with the same library versions.
"""

import json
import os
import shutil

os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TINY = os.path.join(REPO, "tests", "fixtures", "tiny_a")
OUT = os.path.join(REPO, "tests", "fixtures", "lora")

RUN = "plain"
LORA_SCALE = 0.7
MAX_SEQ = 512

# Block layers in diffusers' naming and in Wan's (the mapping diffusers' converter applies).
BLOCK_LAYERS = [
    ("attn1.to_q", "self_attn.q"),
    ("attn1.to_k", "self_attn.k"),
    ("attn1.to_v", "self_attn.v"),
    ("attn1.to_out.0", "self_attn.o"),
    ("attn2.to_q", "cross_attn.q"),
    ("attn2.to_k", "cross_attn.k"),
    ("attn2.to_v", "cross_attn.v"),
    ("attn2.to_out.0", "cross_attn.o"),
    ("attn2.add_k_proj", "cross_attn.k_img"),
    ("attn2.add_v_proj", "cross_attn.v_img"),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
]
# Layers outside the blocks; diffusers' Wan converter takes them without `.alpha` only.
OTHER_LAYERS = [
    ("condition_embedder.time_proj", "time_projection.1"),
    ("proj_out", "head.head"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
]


def load_pipe():
    from diffusers import ChronoEditPipeline

    pipe = ChronoEditPipeline.from_pretrained(os.path.join(TINY, "pipeline"), torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def linear_shapes(transformer):
    sd = transformer.state_dict()
    return {k[: -len(".weight")]: tuple(v.shape) for k, v in sd.items() if k.endswith(".weight") and v.ndim == 2}


def factors(gen, out_f, in_f, rank, amp):
    """A (rank, in) and B (out, rank), both non-zero, sized so the update is a visible fraction of W."""
    a = torch.randn(rank, in_f, generator=gen) * (amp / in_f**0.5)
    b = torch.randn(out_f, rank, generator=gen) * (amp / rank**0.5)
    return a, b


def make_peft(shapes, gen, num_layers):
    """diffusers/PEFT layout: every block layer, two non-block layers, patterns exercised."""
    r, lora_alpha = 4, 6.0
    rank_pattern = {"blocks.1.ffn.net.2": 2}  # one module of another rank
    alpha_pattern = {"attn2.add_k_proj": 3.0}  # matched in every block through PEFT's `(.*\.)?` prefix
    layers = {}
    modules = []
    for i in range(num_layers):
        for ours, _ in BLOCK_LAYERS:
            modules.append(f"blocks.{i}.{ours}")
    modules += ["condition_embedder.time_proj", "proj_out"]
    for m in modules:
        out_f, in_f = shapes[m]
        rank = rank_pattern.get(m, r)
        a, b = factors(gen, out_f, in_f, rank, 0.6)
        layers[f"{m}.lora_A.weight"] = a
        layers[f"{m}.lora_B.weight"] = b
    metadata = dict(
        r=r,
        lora_alpha=lora_alpha,
        rank_pattern=rank_pattern,
        alpha_pattern=alpha_pattern,
        target_modules=sorted(modules),
        use_dora=False,
        use_rslora=False,
        lora_bias=False,
    )
    return layers, metadata


def make_wan(shapes, gen, num_layers):
    """Wan layout: every block layer with an `.alpha` (alpha != rank), the non-block layers without."""
    rank = 3
    sd = {}
    alphas = [1.5, 6.0, 0.75]
    n = 0
    for i in range(num_layers):
        for ours, theirs in BLOCK_LAYERS:
            out_f, in_f = shapes[f"blocks.{i}.{ours}"]
            a, b = factors(gen, out_f, in_f, rank, 0.6)
            sd[f"diffusion_model.blocks.{i}.{theirs}.lora_down.weight"] = a
            sd[f"diffusion_model.blocks.{i}.{theirs}.lora_up.weight"] = b
            sd[f"diffusion_model.blocks.{i}.{theirs}.alpha"] = torch.tensor(alphas[n % len(alphas)])
            n += 1
    for ours, theirs in OTHER_LAYERS:
        out_f, in_f = shapes[ours]
        a, b = factors(gen, out_f, in_f, rank, 0.3)
        sd[f"diffusion_model.{theirs}.lora_down.weight"] = a
        sd[f"diffusion_model.{theirs}.lora_up.weight"] = b
    return sd


def run_plain(pipe, meta, ref):
    run = meta["runs"][RUN]
    image = Image.open(os.path.join(TINY, "input.png")).convert("RGB")
    out = pipe(
        image=image,
        prompt=run["prompt"],
        negative_prompt=run["negative_prompt"],
        height=run["height"],
        width=run["width"],
        num_frames=run["num_frames"],
        num_inference_steps=run["steps"],
        guidance_scale=run["guidance"],
        latents=ref[f"run.{RUN}.latents"].clone(),
        output_type="np",
        max_sequence_length=MAX_SEQ,
        enable_temporal_reasoning=run["enable_temporal_reasoning"],
        num_temporal_reasoning_steps=run["num_temporal_reasoning_steps"],
    ).frames
    return torch.from_numpy(np.asarray(out[0])).permute(0, 3, 1, 2).contiguous()  # (F, 3, H, W)


def main():
    import diffusers
    import peft

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    with open(os.path.join(TINY, "meta.json")) as f:
        meta = json.load(f)
    ref = load_file(os.path.join(TINY, "reference.safetensors"))

    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    pipe = load_pipe()
    # The unmodified pipeline must reproduce the committed tiny_a run, so the LoRA runs differ from it only
    # by the LoRA.
    base = run_plain(pipe, meta, ref)
    d_base = (base - ref[f"run.{RUN}.frames"]).abs().max().item()
    assert d_base < 1e-5, d_base
    shapes = linear_shapes(pipe.transformer)
    base_sd = {k: v.clone() for k, v in pipe.transformer.state_dict().items()}
    num_layers = pipe.transformer.config.num_layers

    gen = torch.Generator().manual_seed(2024)
    peft_layers, peft_meta = make_peft(shapes, gen, num_layers)
    pipe.save_lora_weights(
        OUT,
        transformer_lora_layers=peft_layers,
        weight_name="peft.safetensors",
        transformer_lora_adapter_metadata=peft_meta,
    )
    save_file(make_wan(shapes, gen, num_layers), os.path.join(OUT, "wan.safetensors"), metadata={"format": "pt"})

    rec = {}
    info = {}
    for name in ("peft", "wan"):
        pipe = load_pipe()
        pipe.load_lora_weights(OUT, weight_name=f"{name}.safetensors", adapter_name=name)
        pipe.fuse_lora(lora_scale=LORA_SCALE)
        pipe.unload_lora_weights()  # keeps the fused weights, drops the PEFT wrappers
        sd = pipe.transformer.state_dict()
        assert set(sd) == set(base_sd), sorted(set(sd) ^ set(base_sd))
        touched = sorted(k for k in sd if not torch.equal(sd[k], base_sd[k]))
        for k in touched:
            rec[f"{name}.fused.{k}"] = sd[k].contiguous()
        frames = run_plain(pipe, meta, ref)
        rec[f"{name}.frames"] = frames
        d = (frames - base).abs().max().item()
        info[name] = dict(
            file=f"{name}.safetensors",
            lora_scale=LORA_SCALE,
            touched_weights=touched,
            max_abs_frame_change_vs_no_lora=d,
        )
        print(f"{name}: {len(touched)} weights fused, frames move by up to {d:.3f} vs no LoRA", flush=True)
        assert d > 0.05, f"{name}: the LoRA barely changes the frames ({d})"

    save_file(rec, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})
    out_meta = dict(
        pipeline="tiny_a",
        run=RUN,
        run_settings=meta["runs"][RUN],
        latents=f"tiny_a reference.safetensors run.{RUN}.latents",
        loras=info,
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, peft=peft.__version__),
    )
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(out_meta, f, indent=1, sort_keys=True)
        f.write("\n")
    for fn in sorted(os.listdir(OUT)):
        assert not fn.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl")), fn
        print(f"  {fn}: {os.path.getsize(os.path.join(OUT, fn)) / 1e3:.1f} kB")


if __name__ == "__main__":
    main()
