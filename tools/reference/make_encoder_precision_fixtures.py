#!/usr/bin/env python
"""Write tiny_a's text encoder (umT5) and image encoder (CLIP vision) as users hold the real ones, and what
transformers computes from each.

Run with the reference venv (see README.md):

    python tools/reference/make_encoder_precision_fixtures.py

Reads the committed tests/fixtures/tiny_a/pipeline/{text_encoder,image_encoder} (f32) and writes
tests/fixtures/encoder_precision/:

  umt5_bf16.safetensors        every tensor bf16, transformers' names (as diffusers' ChronoEdit repo
                               stores its text encoder).
  umt5_fp8_scaled.safetensors  ComfyUI's scaled fp8 (as `umt5_xxl_fp8_e4m3fn_scaled.safetensors`): the
                               linear weights (SelfAttention q/k/v/o, DenseReluDense wi_0/wi_1/wo)
                               float8_e4m3fn with a 0-d f32 `<layer>.scale_weight` (absmax / 448), the
                               empty `scaled_fp8` marker, everything else bf16.
  clip_f16.safetensors         every tensor f16 under `vision_model.` plus a `visual_projection.weight`,
                               the layout of ComfyUI's `clip_vision_h.safetensors`.
  clip_fp8_scaled.safetensors  the same, with the encoder layers' linear weights (self_attn q/k/v/out_proj,
                               mlp fc1/fc2) scaled fp8 as above.
  reference.safetensors        `umt5.input_ids`, `umt5.attention_mask`, `clip.pixel_values` (seeded inputs);
                               `<form>.out` for form in umt5_f32, umt5_bf16, umt5_fp8_scaled (last hidden
                               state) and clip_f32, clip_f16, clip_fp8_scaled (hidden_states[-2]): transformers
                               run in f32 with each file's weights dequantized (f32(bf16/f16);
                               f32(fp8) * scale).
  meta.json                    distances between the outputs, versions.
"""

import importlib.metadata
import json
import os

import torch
from safetensors.torch import load_file, save_file
from transformers import CLIPVisionModel, UMT5EncoderModel

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures")
TINY = os.path.join(ROOT, "tiny_a", "pipeline")
OUT = os.path.join(ROOT, "encoder_precision")
FP8 = torch.float8_e4m3fn


def umt5_linear(name):
    return name.endswith(".weight") and (
        (".SelfAttention." in name and "relative_attention_bias" not in name) or ".DenseReluDense." in name
    )


def clip_linear(name):
    return (".self_attn." in name and name.endswith("_proj.weight")) or name.endswith(
        (".mlp.fc1.weight", ".mlp.fc2.weight")
    )


def scaled_fp8(sd, is_linear, other_dtype):
    """(the file's tensors, the dequantized f32 state dict) in ComfyUI's scaled-fp8 form."""
    out, deq = {}, {}
    for k, w in sd.items():
        if is_linear(k):
            scale = (w.abs().max() / 448.0).float()
            w8 = (w / scale).to(FP8)
            out[k] = w8
            out[k[: -len(".weight")] + ".scale_weight"] = scale.reshape(())
            deq[k] = w8.float() * scale
        else:
            out[k] = w.to(other_dtype).contiguous()
            deq[k] = out[k].float()
    out["scaled_fp8"] = torch.empty(0, dtype=FP8)
    return out, deq


def cast(sd, dtype):
    out = {k: v.to(dtype).contiguous() for k, v in sd.items()}
    return out, {k: v.float() for k, v in out.items()}


def run_umt5(sd, ids, mask):
    m = UMT5EncoderModel.from_pretrained(os.path.join(TINY, "text_encoder"), torch_dtype=torch.float32).eval()
    sd = dict(sd)
    sd.setdefault("encoder.embed_tokens.weight", sd["shared.weight"])
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not [k for k in missing if k != "encoder.embed_tokens.weight"] and not unexpected, (missing, unexpected)
    with torch.no_grad():
        return m(input_ids=ids, attention_mask=mask).last_hidden_state.contiguous()


def run_clip(sd, px):
    m = CLIPVisionModel.from_pretrained(os.path.join(TINY, "image_encoder"), torch_dtype=torch.float32).eval()
    sd = {k.removeprefix("vision_model."): v for k, v in sd.items() if not k.startswith("visual_projection")}
    m.load_state_dict(sd, strict=True)
    with torch.no_grad():
        return m(pixel_values=px, output_hidden_states=True).hidden_states[-2].contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    te = load_file(os.path.join(TINY, "text_encoder", "model.safetensors"))
    ie = load_file(os.path.join(TINY, "image_encoder", "model.safetensors"))
    vocab = te["shared.weight"].shape[0]
    ids = torch.randint(0, vocab, (2, 12), generator=g)
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 7:] = 0
    px = torch.randn(1, 3, 16, 16, generator=g)
    ref = {"umt5.input_ids": ids, "umt5.attention_mask": mask, "clip.pixel_values": px}

    forms = {
        "umt5_bf16": cast(te, torch.bfloat16),
        "umt5_fp8_scaled": scaled_fp8(te, umt5_linear, torch.bfloat16),
    }
    ref["umt5_f32.out"] = run_umt5(te, ids, mask)
    for name, (file_sd, deq) in forms.items():
        save_file(file_sd, os.path.join(OUT, f"{name}.safetensors"))
        ref[f"{name}.out"] = run_umt5(deq, ids, mask)

    ie_comfy = {f"vision_model.{k}": v for k, v in ie.items()}
    hidden = ie["post_layernorm.weight"].shape[0]
    ie_comfy["visual_projection.weight"] = torch.randn(16, hidden, generator=g)
    forms = {
        "clip_f16": cast(ie_comfy, torch.float16),
        "clip_fp8_scaled": scaled_fp8(ie_comfy, clip_linear, torch.float16),
    }
    ref["clip_f32.out"] = run_clip(ie_comfy, px)
    for name, (file_sd, deq) in forms.items():
        save_file(file_sd, os.path.join(OUT, f"{name}.safetensors"))
        ref[f"{name}.out"] = run_clip(deq, px)

    save_file(ref, os.path.join(OUT, "reference.safetensors"))
    dist = {}
    for enc, forms_ in [("umt5", ["bf16", "fp8_scaled"]), ("clip", ["f16", "fp8_scaled"])]:
        for f in forms_:
            d = (ref[f"{enc}_{f}.out"] - ref[f"{enc}_f32.out"]).abs().max().item()
            dist[f"{enc}_{f}_vs_f32_max_abs"] = d
    meta = {
        "distances": dist,
        "versions": {p: importlib.metadata.version(p) for p in ["torch", "transformers", "safetensors"]},
    }
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
