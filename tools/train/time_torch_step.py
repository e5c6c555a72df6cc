#!/usr/bin/env python
"""Seconds per training step of the bundled transformer in PyTorch, to compare with `physedit world train`.

    OMP_NUM_THREADS=1 python tools/train/time_torch_step.py [--batch 32] [--steps 5]

The same work as one `physedit world train` step: the transformer forward + backward + AdamW on a batch
of 2-latent-frame edit videos (16x16 latents), a 20-token prompt in the short form of train_dit.py
(the real tokens plus one zero row standing for the padding), 17 CLIP tokens. Random inputs: speed does
not depend on the values. Prints the mean of --steps steps after one warm-up step.
"""

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import train_dit as td  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tr = common.make_transformer()
    short = td.install_short_text(tr)
    opt = torch.optim.AdamW(tr.parameters(), lr=1e-4)
    b, z, n_txt = a.batch, common.VAE_CFG["z_dim"], 20
    x = torch.randn(b, 2 * z + 4, 2, 16, 16)
    target = torch.randn(b, z, 2, 16, 16)
    text = torch.cat([torch.randn(b, n_txt, common.UMT5_CFG["d_model"]),
                      torch.zeros(b, 1, common.UMT5_CFG["d_model"])], dim=1)
    short.bias = torch.zeros(n_txt + 1)
    short.bias[n_txt] = float(torch.log(torch.tensor(common.MAX_SEQ - n_txt)))
    image = torch.randn(b, 17, common.CLIP_CFG["hidden_size"])
    short.n_img = image.shape[1]
    times = []
    for step in range(a.steps + 1):
        t = time.perf_counter()
        pred = tr(hidden_states=x, timestep=torch.rand(b) * 1000, encoder_hidden_states=text,
                  encoder_hidden_states_image=image, return_dict=False)[0]
        loss = ((pred - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step:
            times.append(time.perf_counter() - t)
    print(f"torch {torch.__version__}: {sum(times) / len(times):.3f} s per step (batch {b}, mean of {len(times)})")


if __name__ == "__main__":
    main()
