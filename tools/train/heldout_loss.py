#!/usr/bin/env python
"""Held-out flow-matching loss of stage-2 checkpoints (EMA weights), for comparing training choices.

    python tools/train/heldout_loss.py --shards S --vae V --start 11264 --n 512 /tmp/ab/joint /tmp/ab/frozen

Edit pairs of cases start..start+n of the shards (not seen in training when the runs used --limit <= start),
fixed noise levels and noise (seeded), every checkpoint scored on the same draws; with the real prompts and
with empty prompts (the gap is how much the model's prediction depends on the instruction). Also the loss
on the target frame's latent cells inside the true edit mask (max-pooled to the latent grid) and outside it.
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import train_dit as td  # noqa: E402


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", required=True)
    ap.add_argument("--vae", required=True)
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("runs", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from diffusers import AutoencoderKLWan
    from PIL import Image
    from transformers import PreTrainedTokenizerFast

    data = common.Shards(a.shards, limit=a.start + a.n)
    idx = np.arange(a.start, a.start + a.n)
    vae = AutoencoderKLWan.from_pretrained(a.vae).eval()
    gen = torch.Generator().manual_seed(1234)
    sig = td.shifted_sigmas(a.n, common.FLOW_SHIFT, gen)
    for run in a.runs:
        ck = torch.load(os.path.join(run, "ckpt.pt"), weights_only=False)
        enc = td.Encoder(vae, ck["mean"], ck["std"])
        tok = PreTrainedTokenizerFast.from_pretrained(os.path.join(run, "tokenizer"))
        tr, te = common.make_transformer(ck.get("transformer_cfg")), common.make_text_encoder(len(tok))
        ie, _ = common.make_image_encoder()
        mods = torch.nn.ModuleDict(dict(transformer=tr, text_encoder=te, image_encoder=ie))
        mods.load_state_dict(ck["ema"])
        mods.eval()
        short = td.install_short_text(tr)

        def lat(pics):
            return enc.norm(enc.raw(common.to_video(pics[:, None])))

        totals = {"prompt": 0.0, "empty": 0.0}
        region = {"in": [0.0, 0.0], "out": [0.0, 0.0]}  # [sum of squared errors, element count]
        by_cat = {}  # category -> [sum of squared errors inside the edit, element count]
        zero = enc.norm(enc.raw(torch.zeros(1, 3, 1, common.SIZE, common.SIZE)))
        g = torch.Generator().manual_seed(99)
        for b0 in range(0, a.n, 32):
            ii = idx[b0 : b0 + 32]
            x0 = torch.cat([lat(data.source[ii]), lat(data.target[ii])], dim=2)
            bs = len(ii)
            cond = torch.cat([x0[:, :, :1], zero.expand(bs, -1, 1, -1, -1)], dim=2)
            noise = torch.randn(x0.shape, generator=g)
            s = sig[b0 : b0 + bs].view(bs, 1, 1, 1, 1)
            xt = (1 - s) * x0 + s * noise
            inp = torch.cat([xt, td.mask_channels(bs, 2, x0.shape[3], x0.shape[4]), cond], dim=1)
            m = common.latent_edit_mask(data.mask[ii], x0.shape[-1]).unsqueeze(1)  # [bs, 1, h, w]
            pix = common.clip_pixels([Image.fromarray(data.source[i]) for i in ii])
            ehi = ie(pixel_values=pix, output_hidden_states=True).hidden_states[-2]
            short.n_img = ehi.shape[1]
            for kind in totals:
                texts = [common.prompt_clean(data.prompts[i]) if kind == "prompt" else "" for i in ii]
                ehs = td.encode_text(tok, te, short, texts)
                pred = tr(hidden_states=inp, timestep=s.flatten() * 1000, encoder_hidden_states=ehs,
                          encoder_hidden_states_image=ehi, return_dict=False)[0]
                err = (pred - (noise - x0)) ** 2
                totals[kind] += err.mean().item() * bs
                if kind == "prompt":
                    last = err[:, :, -1]  # [bs, c, h, w]
                    for name, w in (("in", m), ("out", 1.0 - m)):
                        region[name][0] += (last * w).sum().item()
                        region[name][1] += (w.expand_as(last)).sum().item()
                    for j, i in enumerate(ii):
                        acc = by_cat.setdefault(data.meta[i]["edit_type"], [0.0, 0.0])
                        acc[0] += (last[j] * m[j]).sum().item()
                        acc[1] += m[j].expand_as(last[j]).sum().item()
        print(f"{run}: step {ck['step']}, held-out loss {totals['prompt'] / a.n:.5f} with the prompts, "
              f"{totals['empty'] / a.n:.5f} with empty prompts; target frame inside the edit "
              f"{region['in'][0] / region['in'][1]:.5f}, outside {region['out'][0] / region['out'][1]:.5f}", flush=True)
        print("  inside the edit by category: " + ", ".join(
            f"{c} {v[0] / max(v[1], 1):.4f}" for c, v in by_cat.items()), flush=True)


if __name__ == "__main__":
    main()
