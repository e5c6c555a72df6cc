#!/usr/bin/env python
"""Stage 1: train the tiny AutoencoderKLWan on world videos (reconstruction + small KL).

    nice python tools/train/train_vae.py --shards /tmp/tr/shards --out /tmp/tr/vae --minutes 20

The VAE is initialised frame-wise (common.make_framewise: past-frame taps zero, temporal resampling =
keep / repeat the frame), so it is trained on single pictures (sources, targets and trajectory frames):
a 5-frame video [source, target x4] then encodes to [enc(source), enc(target)] and decodes back with the
target as its last frame. Training uses random --crop crops (the VAE is convolutional apart from its
per-frame mid attention, so it runs on 64x64 pictures unchanged). Resumes from --out if a checkpoint is there. Logs step,seconds,loss,l1,kl to
--out/log.csv.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--kl", type=float, default=1e-6)
    ap.add_argument("--ckpt-every", type=float, default=180, help="seconds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--init", help="start from this VAE folder instead of a fresh frame-wise one (--out must be new)")
    ap.add_argument("--freeze-encoder", action="store_true",
                    help="train the decoder only (latents stay valid for a stage 2 run started on this encoder)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)

    data = common.Shards(a.shards)
    from diffusers import AutoencoderKLWan

    os.makedirs(a.out, exist_ok=True)
    log_path = os.path.join(a.out, "log.csv")
    if a.init and not os.path.exists(os.path.join(a.out, "config.json")):
        vae = AutoencoderKLWan.from_pretrained(a.init)
        step0 = 0
        with open(log_path, "w") as f:
            f.write("step,seconds,loss,l1,kl\n")
        print(f"starting from {a.init}", flush=True)
    elif os.path.exists(os.path.join(a.out, "config.json")):
        vae = AutoencoderKLWan.from_pretrained(a.out)
        step0 = sum(1 for _ in open(log_path)) - 1 if os.path.exists(log_path) else 0
        print(f"resumed from {a.out} at step {step0}", flush=True)
    else:
        vae = common.make_framewise(common.make_vae())
        step0 = 0
        with open(log_path, "w") as f:
            f.write("step,seconds,loss,l1,kl\n")
    dev = torch.device(a.device)
    vae.to(dev).train()
    params = list(vae.parameters())
    opt_path = os.path.join(a.out, "opt.pt")
    if a.freeze_encoder:
        frozen = list(vae.encoder.parameters()) + list(vae.quant_conv.parameters())
        for p in frozen:
            p.requires_grad_(False)
        ids = {id(p) for p in frozen}
        params = [p for p in params if id(p) not in ids]
        opt_path = os.path.join(a.out, "opt_decoder.pt")
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    if step0 and os.path.exists(opt_path):
        opt.load_state_dict(torch.load(opt_path, map_location=dev))

    t0 = time.time()
    last_ckpt = t0
    step = step0
    ema = None
    while time.time() - t0 < a.minutes * 60:
        idx = rng.choice(len(data), a.batch, replace=False)
        fi = rng.integers(0, data.frames.shape[1], size=a.batch)
        x = common.to_video(data.frames[idx, fi][:, None]).to(dev)  # [B, 3, 1, S, S]
        c = a.crop
        if c < x.shape[-1]:
            oy, ox = rng.integers(0, x.shape[-1] - c + 1, size=2)
            x = x[..., oy : oy + c, ox : ox + c].contiguous()
        dist = vae.encode(x).latent_dist
        y = vae.decode(dist.sample()).sample
        l1 = (y - x).abs().mean()
        mse = ((y - x) ** 2).mean()
        kl = dist.kl().mean() / (x[0].numel())
        loss = l1 + mse + a.kl * dist.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        with open(log_path, "a") as f:
            f.write(f"{step},{time.time() - t0:.1f},{loss.item():.5f},{l1.item():.5f},{kl.item():.6f}\n")
        if step % 10 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s loss {loss.item():.4f} ema {ema:.4f}", flush=True)
        if time.time() - last_ckpt > a.ckpt_every:
            vae.save_pretrained(a.out, safe_serialization=True)
            torch.save(opt.state_dict(), opt_path)
            last_ckpt = time.time()
    vae.save_pretrained(a.out, safe_serialization=True)
    torch.save(opt.state_dict(), opt_path)
    print(f"done: {step} steps in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
