#!/usr/bin/env python
"""Export: assemble the trained parts into a diffusers ChronoEditPipeline folder (safetensors only).

    python tools/train/export.py --vae /tmp/tr/vae --dit /tmp/tr/dit --out models/physedit-world [--raw]

Uses the EMA weights of stage 2 unless --raw. Writes f32 weights and removes anything that is not
safetensors/json/txt. The VAE config gets the latent statistics measured in stage 2 (latents_mean/std).
"""

import argparse
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def build_pipeline(vae_dir, dit_dir, raw=False, encoder_dir=None):
    from diffusers import AutoencoderKLWan, ChronoEditPipeline
    from transformers import CLIPImageProcessor, PreTrainedTokenizerFast

    ck = torch.load(os.path.join(dit_dir, "ckpt.pt"), weights_only=False, map_location="cpu")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(os.path.join(dit_dir, "tokenizer"))
    image_processor = CLIPImageProcessor.from_pretrained(os.path.join(dit_dir, "image_processor"))
    transformer = common.make_transformer(ck.get("transformer_cfg"))
    text_encoder = common.make_text_encoder(len(tokenizer))
    image_encoder, _ = common.make_image_encoder()
    mods = torch.nn.ModuleDict(dict(transformer=transformer, text_encoder=text_encoder, image_encoder=image_encoder))
    mods.load_state_dict(ck["modules"] if raw else ck["ema"])
    vae = AutoencoderKLWan.from_pretrained(vae_dir)
    if encoder_dir:
        # Stage 2 trained on latents of this encoder; the decoder may have been fine-tuned since. They must match.
        enc = AutoencoderKLWan.from_pretrained(encoder_dir)
        for part in ("encoder", "quant_conv"):
            a_sd, b_sd = getattr(vae, part).state_dict(), getattr(enc, part).state_dict()
            for k in a_sd:
                if not torch.equal(a_sd[k], b_sd[k]):
                    raise SystemExit(f"{vae_dir}: {part}.{k} differs from the stage-2 encoder in {encoder_dir}")
    vae.register_to_config(latents_mean=list(ck["mean"]), latents_std=list(ck["std"]))
    pipe = ChronoEditPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder.eval(),
        image_encoder=image_encoder.eval(),
        image_processor=image_processor,
        transformer=transformer.eval(),
        vae=vae.eval(),
        scheduler=common.make_scheduler(),
    )
    return pipe, ck["step"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vae", required=True)
    ap.add_argument("--dit", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    ap.add_argument("--encoder", help="VAE folder stage 2 was trained on (checked: same encoder as --vae)")
    a = ap.parse_args()
    pipe, step = build_pipeline(a.vae, a.dit, a.raw, a.encoder)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    pipe.save_pretrained(a.out, safe_serialization=True)
    total = 0
    for root, _, files in os.walk(a.out):
        for f in files:
            p = os.path.join(root, f)
            if not f.endswith((".safetensors", ".json", ".txt")):
                os.remove(p)
                print("removed", p)
                continue
            total += os.path.getsize(p)
    print(f"exported step {step} to {a.out}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
