#!/usr/bin/env python
"""The VAE's ceiling: encode + decode every true target of a world suite, to score with `world eval`.

    python tools/train/vae_ceiling.py VAE_DIR OUT_DIR [SUITE=data/world/test]
    ./target/release/physedit world eval --suite data/world/test --edited OUT_DIR

No transformer can make an edit pass that the VAE cannot even reconstruct, so the success of these
reconstructions bounds the success of any model built on this VAE.
"""

import json
import os
import sys

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from PIL import Image


@torch.no_grad()
def main():
    vae_dir, out = sys.argv[1], sys.argv[2]
    suite = sys.argv[3] if len(sys.argv) > 3 else "data/world/test"
    torch.set_num_threads(1)
    os.makedirs(out, exist_ok=True)
    vae = AutoencoderKLWan.from_pretrained(vae_dir).eval()
    keys = [json.loads(line)["key"] for line in open(os.path.join(suite, "cases.jsonl")) if line.strip()]
    for i in range(0, len(keys), 25):
        ks = keys[i : i + 25]
        x = np.stack([np.array(Image.open(os.path.join(suite, "targets", f"{k}.png")).convert("RGB")) for k in ks])
        t = torch.from_numpy(x).float().div(127.5).sub(1).permute(0, 3, 1, 2).unsqueeze(2)
        y = vae.decode(vae.encode(t).latent_dist.mode()).sample
        y = ((y.clamp(-1, 1) + 1) * 127.5).round().byte().squeeze(2).permute(0, 2, 3, 1).numpy()
        for k, im in zip(ks, y):
            Image.fromarray(im).save(os.path.join(out, f"{k}.png"))
    print(f"wrote {len(keys)} reconstructions to {out}")


if __name__ == "__main__":
    main()
