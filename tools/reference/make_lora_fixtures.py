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

and the other layouts Wan LoRAs are published in (keys listed in meta.json `layouts`), each with the last
frame (the edited picture) of the same run in layouts.safetensors:

  bare.safetensors     original Wan names without a prefix, `lora_A` / `lora_B` (DiffSynth-Studio), every
                       block layer and the non-block layers the Wan fixture leaves out; diffusers loads it
                       once the `diffusion_model.` prefix it needs is added
  peft_default.safetensors   the same tensors with PEFT's adapter name inside (`lora_A.default.weight`);
                       its reference is bare's
  musubi.safetensors   kohya / musubi-tuner (`lora_unet_blocks_0_self_attn_q.lora_down.weight`, `.alpha`)
  distill.safetensors  a step-distillation-style file under `diffusion_model.`: factors with `.alpha` and
                       `diff_b` bias updates, all-zero norm `diff`/`diff_b` keys, `head.head.diff` +
                       `head.head.diff_b`, a `.diff` of one block weight (blocks.1.ffn.2, which has no
                       factors) and a `time_projection.1.diff_b`
                       without time_projection factors. diffusers 0.42 drops the last two (it logs the
                       `.diff` and drops AccVideo's time_projection bias); they are merged explicitly
                       (`W += scale * diff`, ComfyUI's rule) after diffusers' fuse
  loha.safetensors     LyCORIS LoHa under `diffusion_model.` (`hada_w1_a/b`, `hada_w2_a/b`, `alpha`)
  lokr.safetensors     LyCORIS LoKr in kohya names (`lokr_w1` or `lokr_w1_a/b`, `lokr_w2` or `lokr_w2_a/b`,
                       `alpha`), every combination of whole and factored sides
                       diffusers cannot load LyCORIS: the two are merged explicitly into diffusers' pipeline
                       with ComfyUI's formulas (comfy/weight_adapter/loha.py, lokr.py)

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


# ----- the other layouts -----------------------------------------------------------------------------------
# Non-block layers the Wan fixture does not cover.
BARE_OTHER = [
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
    ("proj_out", "head.head"),
    ("condition_embedder.time_proj", "time_projection.1"),
]
# Norm layers with weights in the original names, for zero `diff` keys.
NORMS = ["norm3", "self_attn.norm_q", "self_attn.norm_k", "cross_attn.norm_q"]


def make_bare(shapes, gen, num_layers):
    """DiffSynth-Studio: original names, no prefix, lora_A / lora_B, no alpha."""
    sd = {}
    layers = [(f"blocks.{i}.{ours}", f"blocks.{i}.{theirs}") for i in range(num_layers) for ours, theirs in BLOCK_LAYERS]
    for ours, theirs in layers + BARE_OTHER:
        out_f, in_f = shapes[ours]
        amp = 0.6 if ours.startswith("blocks.") else 0.3
        a, b = factors(gen, out_f, in_f, 2, amp)
        sd[f"{theirs}.lora_A.weight"] = a
        sd[f"{theirs}.lora_B.weight"] = b
    return sd


def with_adapter_name(sd, name="default"):
    return {k.replace(".lora_A.weight", f".lora_A.{name}.weight").replace(".lora_B.weight", f".lora_B.{name}.weight"): v
            for k, v in sd.items()}


def make_musubi(shapes, gen, num_layers):
    """kohya / musubi-tuner: every block layer (diffusers' converter needs all of them), with alpha."""
    sd = {}
    alphas = [2.0, 8.0, 1.0]
    n = 0
    for i in range(num_layers):
        for ours, theirs in BLOCK_LAYERS:
            out_f, in_f = shapes[f"blocks.{i}.{ours}"]
            a, b = factors(gen, out_f, in_f, 4, 0.6)
            name = f"lora_unet_blocks_{i}_{theirs.replace('.', '_')}"
            sd[f"{name}.lora_down.weight"] = a
            sd[f"{name}.lora_up.weight"] = b
            sd[f"{name}.alpha"] = torch.tensor(alphas[n % len(alphas)])
            n += 1
    return sd


def make_distill(shapes, biases, gen, num_layers):
    """Step-distillation style. Returns (file tensors, explicit merges {diffusers tensor: diff})."""
    sd = {}
    explicit = {}
    for i in range(num_layers):
        for ours, theirs in BLOCK_LAYERS:
            if (i, ours) == (1, "ffn.net.2"):
                continue  # carries a full difference instead (below)
            out_f, in_f = shapes[f"blocks.{i}.{ours}"]
            a, b = factors(gen, out_f, in_f, 4, 0.5)
            p = f"diffusion_model.blocks.{i}.{theirs}"
            sd[f"{p}.lora_down.weight"] = a
            sd[f"{p}.lora_up.weight"] = b
            sd[f"{p}.alpha"] = torch.tensor(2.0)
            sd[f"{p}.diff_b"] = torch.randn(out_f, generator=gen) * 0.05
        inner = shapes[f"blocks.{i}.attn1.to_q"][0]
        for norm in NORMS:
            sd[f"diffusion_model.blocks.{i}.{norm}.diff"] = torch.zeros(inner)
        sd[f"diffusion_model.blocks.{i}.norm3.diff_b"] = torch.zeros(inner)
    # A full difference of a block weight: diffusers drops it, PhysEdit (like ComfyUI) adds it.
    out_f, in_f = shapes["blocks.1.ffn.net.2"]
    d = torch.randn(out_f, in_f, generator=gen) * 0.05
    sd["diffusion_model.blocks.1.ffn.2.diff"] = d
    explicit["blocks.1.ffn.net.2.weight"] = d
    # head.head.diff + diff_b: diffusers turns the diff into a LoRA with an identity up factor.
    out_f, in_f = shapes["proj_out"]
    sd["diffusion_model.head.head.diff"] = torch.randn(out_f, in_f, generator=gen) * 0.05
    sd["diffusion_model.head.head.diff_b"] = torch.randn(out_f, generator=gen) * 0.05
    # AccVideo's time_projection bias without time_projection factors: diffusers drops it.
    tp = torch.randn(biases["condition_embedder.time_proj"], generator=gen) * 0.05
    sd["diffusion_model.time_projection.1.diff_b"] = tp
    explicit["condition_embedder.time_proj.bias"] = tp
    return sd, explicit


def make_loha(shapes, gen, num_layers):
    """LyCORIS LoHa under diffusion_model.; returns (file tensors, {diffusers tensor: scaled-by-alpha delta})."""
    sd = {}
    deltas = {}
    layers = [(f"blocks.{i}.{ours}", f"blocks.{i}.{theirs}") for i in range(num_layers) for ours, theirs in BLOCK_LAYERS]
    for n, (ours, theirs) in enumerate(layers + [("proj_out", "head.head")]):
        out_f, in_f = shapes[ours]
        r = 3
        w1a = torch.randn(out_f, r, generator=gen) * 0.7
        w1b = torch.randn(r, in_f, generator=gen) * 0.7
        w2a = torch.randn(out_f, r, generator=gen) * 0.7
        w2b = torch.randn(r, in_f, generator=gen) * 0.7
        p = f"diffusion_model.{theirs}"
        sd.update({f"{p}.hada_w1_a": w1a, f"{p}.hada_w1_b": w1b, f"{p}.hada_w2_a": w2a, f"{p}.hada_w2_b": w2b})
        scale = 1.0
        if ours.startswith("blocks."):
            alpha = [1.5, 3.0, 6.0][n % 3]
            sd[f"{p}.alpha"] = torch.tensor(alpha)
            scale = alpha / r  # ComfyUI: alpha / w1b.shape[0]
        deltas[f"{ours}.weight"] = ((w1a @ w1b) * (w2a @ w2b)) * scale
    return sd, deltas


def lokr_side(gen, rows, cols, factored, rank, amp):
    if factored:
        return None, torch.randn(rows, rank, generator=gen) * amp, torch.randn(rank, cols, generator=gen) * amp
    return torch.randn(rows, cols, generator=gen) * amp, None, None


def make_lokr(shapes, gen, num_layers):
    """LyCORIS LoKr in kohya names, cycling through whole/factored sides; ({key: t}, {tensor: delta})."""
    sd = {}
    deltas = {}
    layers = [(f"blocks.{i}.{ours}", f"blocks_{i}_{theirs.replace('.', '_')}") for i in range(num_layers)
              for ours, theirs in BLOCK_LAYERS]
    layers.append(("condition_embedder.text_embedder.linear_1", "text_embedding_0"))
    styles = [(False, True), (True, False), (False, False), (True, True)]  # (w1 factored, w2 factored)
    for n, (ours, theirs) in enumerate(layers):
        out_f, in_f = shapes[ours]
        f1 = (4, 4)
        f2 = (out_f // 4, in_f // 4)
        fa, fb = styles[n % len(styles)]
        w1, w1a, w1b = lokr_side(gen, *f1, fa, 2, 0.6)
        w2, w2a, w2b = lokr_side(gen, *f2, fb, 3, 0.6)
        p = f"lora_unet_{theirs}"
        for name, t in [("lokr_w1", w1), ("lokr_w1_a", w1a), ("lokr_w1_b", w1b),
                        ("lokr_w2", w2), ("lokr_w2_a", w2a), ("lokr_w2_b", w2b)]:
            if t is not None:
                sd[f"{p}.{name}"] = t
        alpha = 2.0
        sd[f"{p}.alpha"] = torch.tensor(alpha)
        # ComfyUI: dim = w2_b rows if w2 is factored, else w1_b rows if w1 is; alpha / dim, 1 without dim.
        dim = w2b.shape[0] if fb else (w1b.shape[0] if fa else None)
        scale = alpha / dim if dim is not None else 1.0
        m1 = w1a @ w1b if fa else w1
        m2 = w2a @ w2b if fb else w2
        deltas[f"{ours}.weight"] = torch.kron(m1, m2) * scale
    return sd, deltas


def merge_explicitly(pipe, deltas, scale):
    """W += scale * delta for each named tensor, in f32 (ComfyUI's `weight += strength * diff`)."""
    sd = pipe.transformer.state_dict()
    with torch.no_grad():
        for name, delta in deltas.items():
            assert sd[name].shape == delta.shape, (name, sd[name].shape, delta.shape)
            sd[name].add_(delta * scale)


def make_layouts(meta, ref, shapes, biases, num_layers, base):
    """Writes the other layouts and layouts.safetensors (last frame of each) ; returns their meta entries."""
    gen = torch.Generator().manual_seed(2025)
    bare = make_bare(shapes, gen, num_layers)
    musubi = make_musubi(shapes, gen, num_layers)
    distill, distill_explicit = make_distill(shapes, biases, gen, num_layers)
    loha, loha_deltas = make_loha(shapes, gen, num_layers)
    lokr, lokr_deltas = make_lokr(shapes, gen, num_layers)
    files = {
        "bare": bare,
        "peft_default": with_adapter_name(bare),
        "musubi": musubi,
        "distill": distill,
        "loha": loha,
        "lokr": lokr,
    }
    for name, sd in files.items():
        save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(OUT, f"{name}.safetensors"),
                  metadata={"format": "pt"})
    # How the reference frames of each layout are made.
    runs = {
        "bare": ("diffusers", {f"diffusion_model.{k}": v for k, v in bare.items()}, {}),
        "musubi": ("diffusers", musubi, {}),
        "distill": ("diffusers + explicit merge", distill, distill_explicit),
        "loha": ("explicit merge", None, loha_deltas),
        "lokr": ("explicit merge", None, lokr_deltas),
    }
    rec = {}
    info = {}
    base_last = base[-1]
    for name, (how, state_dict, explicit) in runs.items():
        pipe = load_pipe()
        if state_dict is not None:
            pipe.load_lora_weights({k: v.clone() for k, v in state_dict.items()}, adapter_name=name)
            pipe.fuse_lora(lora_scale=LORA_SCALE)
            pipe.unload_lora_weights()
        merge_explicitly(pipe, explicit, LORA_SCALE)
        last = run_plain(pipe, meta, ref)[-1].contiguous()
        rec[f"{name}.last_frame"] = last
        d = (last - base_last).abs().max().item()
        info[name] = dict(
            file=f"{name}.safetensors",
            reference=how,
            explicitly_merged=sorted(explicit),
            lora_scale=LORA_SCALE,
            max_abs_last_frame_change_vs_no_lora=d,
        )
        print(f"{name}: {how}; last frame moves by up to {d:.3f} vs no LoRA", flush=True)
        assert d > 0.05, f"{name}: the LoRA barely changes the frames ({d})"
    info["peft_default"] = dict(file="peft_default.safetensors", reference="bare's (the same tensors)",
                                lora_scale=LORA_SCALE)
    save_file(rec, os.path.join(OUT, "layouts.safetensors"), metadata={"format": "pt"})
    return info


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
    biases = {k[: -len(".bias")]: v.shape[0] for k, v in base_sd.items() if k.endswith(".bias")}
    layouts = make_layouts(meta, ref, shapes, biases, num_layers, base)
    out_meta = dict(
        pipeline="tiny_a",
        run=RUN,
        run_settings=meta["runs"][RUN],
        latents=f"tiny_a reference.safetensors run.{RUN}.latents",
        loras=info,
        layouts=layouts,
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
