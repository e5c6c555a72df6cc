#!/usr/bin/env python
"""Stage 2: train the tiny ChronoEditTransformer3DModel (+ umT5 and CLIP tower jointly) with flow matching.

    nice python tools/train/train_dit.py --shards /tmp/tr/shards --vae /tmp/tr/vae --out /tmp/tr/dit --minutes 55

The VAE from stage 1 is frozen. Cases are VAE-encoded inside the loop (a few new cases per step, kept in a
replay buffer), conditioned exactly as ChronoEditPipeline.prepare_latents builds the condition:
mask channels (4, ones on latent frame 0) + normalised VAE latents of [source, zeros...]. Targets:
  - edit pairs: latents of [source, target x4] (5 frames, 2 latent frames);
  - action edits, also: latents of [source, 4 trajectory frames, target x4] (9 frames, 3 latent frames:
    source, trajectory frame 4, target), trained every --reason-every steps (temporal reasoning).
The VAE is frame-wise (see common.make_framewise), so pictures are encoded one at a time (checked at start).
Each case is encoded once (the first pass over the data fills the buffer), then reused.
Flow matching as Wan: x_t = (1 - s) x0 + s noise, target = noise - x0, timestep = 1000 s, s drawn uniform
then shifted by FLOW_SHIFT (the saved scheduler's flow_shift). 10% of prompts are dropped to "" for CFG.
Resumes from --out/ckpt.pt. Log: --out/log.csv (step,seconds,loss,loss_reason,cases).
"""

import argparse
import copy
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


class ShortTextCrossAttn:
    """Training-time cross-attention processor, exactly equivalent to the pipeline's 512-token padding.

    The pipeline pads prompt embeddings with zero rows to 512 tokens; every zero row yields the same key and
    value, so attending to N copies equals attending to one copy with log(N) added to its logit. The batch
    is given as text padded (with zero rows) to its longest prompt L plus one extra zero row; `bias` adds
    log(512 - L) to that last row. `n_img` is the number of CLIP tokens in front of the text."""

    def __init__(self):
        self.n_img = 0
        self.bias = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        import torch.nn.functional as F

        img, txt = encoder_hidden_states[:, : self.n_img], encoder_hidden_states[:, self.n_img :]
        b = hidden_states.shape[0]
        h = attn.heads

        def heads(x):
            return x.unflatten(2, (h, -1)).transpose(1, 2)

        q = heads(attn.norm_q(attn.to_q(hidden_states)))
        k = heads(attn.norm_k(attn.to_k(txt)))
        v = heads(attn.to_v(txt))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias.to(q.dtype).view(1, 1, 1, -1))
        ki = heads(attn.norm_added_k(attn.add_k_proj(img)))
        vi = heads(attn.add_v_proj(img))
        out = out + F.scaled_dot_product_attention(q, ki, vi)
        out = out.transpose(1, 2).reshape(b, -1, h * q.shape[-1])
        return attn.to_out[1](attn.to_out[0](out))


def install_short_text(transformer):
    proc = ShortTextCrossAttn()
    for blk in transformer.blocks:
        blk.attn2.set_processor(proc)
    return proc


def shifted_sigmas(n, shift, gen=None):
    u = torch.rand(n, generator=gen)
    return shift * u / (1 + (shift - 1) * u)


class Encoder:
    """Frozen VAE + the pipeline's latent normalisation."""

    def __init__(self, vae, mean, std):
        self.vae = vae
        z = vae.config.z_dim
        self.mean = torch.tensor(mean).view(1, z, 1, 1, 1)
        self.std = torch.tensor(std).view(1, z, 1, 1, 1)

    @torch.no_grad()
    def raw(self, video):
        return self.vae.encode(video).latent_dist.mode()

    def norm(self, lat):
        return (lat - self.mean) / self.std


def cond_video(src_video, n_frames):
    """[source, zeros...] as prepare_latents builds it."""
    b, c, _, h, w = src_video.shape
    return torch.cat([src_video[:, :, :1], src_video.new_zeros(b, c, n_frames - 1, h, w)], dim=2)


def mask_channels(b, n_lat, h, w):
    m = torch.zeros(b, 4, n_lat, h, w)
    m[:, :, 0] = 1.0
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", required=True)
    ap.add_argument("--vae", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=55)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-per-step", type=int, default=8)
    ap.add_argument("--reason-every", type=int, default=6)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--ckpt-every", type=float, default=240, help="seconds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    from diffusers import AutoencoderKLWan
    from diffusers.pipelines.chronoedit.pipeline_chronoedit import prompt_clean
    from PIL import Image

    data = common.Shards(a.shards)
    prompts = [prompt_clean(p) for p in data.prompts]
    is_action = np.array([m["edit_type"] == "action" for m in data.meta])

    # Tokenizer from the training instructions (written once, reused on resume).
    tok_dir = os.path.join(a.out, "tokenizer")
    from transformers import PreTrainedTokenizerFast

    if os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    else:
        tokenizer = common.wrap_tokenizer(common.train_tokenizer(prompts))
        tokenizer.save_pretrained(tok_dir)
    vocab = len(tokenizer)

    vae = AutoencoderKLWan.from_pretrained(a.vae).eval()
    for p in vae.parameters():
        p.requires_grad_(False)

    ckpt_path = os.path.join(a.out, "ckpt.pt")
    transformer = common.make_transformer()
    text_encoder = common.make_text_encoder(vocab)
    image_encoder, image_processor = common.make_image_encoder()
    image_processor.save_pretrained(os.path.join(a.out, "image_processor"))
    modules = torch.nn.ModuleDict(dict(transformer=transformer, text_encoder=text_encoder, image_encoder=image_encoder))
    opt = torch.optim.AdamW(modules.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.99))
    log_path = os.path.join(a.out, "log.csv")
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=False)
        modules.load_state_dict(ck["modules"])
        ema = torch.nn.ModuleDict(copy.deepcopy(dict(modules.items())))
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, lat_mean, lat_std, order, cursor = ck["step"], ck["mean"], ck["std"], ck["order"], ck["cursor"]
        rng = np.random.default_rng(a.seed + step)
        print(f"resumed at step {step}", flush=True)
    else:
        ema = copy.deepcopy(modules)
        step = 0
        order = rng.permutation(len(data))
        cursor = 0
        # Latent statistics of the frozen VAE on 96 cases (edit videos) -> the pipeline's latents_mean/std.
        idx = order[:96]
        lats = torch.cat([vae.encode(common.edit_video(data, idx[i : i + 16])).latent_dist.mode() for i in
                          range(0, len(idx), 16)])
        lat_mean = [round(float(v), 4) for v in lats.mean(dim=(0, 2, 3, 4))]
        lat_std = [round(float(v), 4) for v in lats.std(dim=(0, 2, 3, 4))]
        with open(log_path, "w") as f:
            f.write("step,seconds,loss,loss_reason,cases\n")
    for p in ema.parameters():
        p.requires_grad_(False)
    print("latents mean", lat_mean, "std", lat_std, flush=True)
    enc = Encoder(vae, lat_mean, lat_std)

    # Replay buffer of encoded cases.
    buf = dict(idx=[], cond=[], tgt=[], pix=[])
    rbuf = dict(idx=[], cond=[], tgt=[], pix=[])

    def clip_pixels(idx):
        imgs = [Image.fromarray(data.source[i]) for i in idx]
        return image_processor(images=imgs, return_tensors="pt").pixel_values

    # The stage-1 VAE is frame-wise (common.make_framewise): encode([a, b, b, b, b]) == [enc(a), enc(b)] and
    # encode([a, zeros x4]) == [enc(a), enc(zeros)], so cases are encoded one picture at a time. Checked here.
    def enc1(pics_u8):
        return enc.norm(enc.raw(common.to_video(pics_u8[:, None])))

    zero_lat = enc.norm(enc.raw(torch.zeros(1, 3, 1, common.SIZE, common.SIZE)))[0]
    chk = np.array([int(order[0]), int(order[1])])
    full = enc.norm(enc.raw(common.edit_video(data, chk)))
    per = torch.cat([enc1(data.source[chk]), enc1(data.target[chk])], dim=2)
    assert (full - per).abs().max() < 1e-4, f"VAE is not frame-wise: {(full - per).abs().max()}"
    full = enc.norm(enc.raw(cond_video(common.edit_video(data, chk), 5)))
    assert (full[:, :, 1] - zero_lat[:, 0]).abs().max() < 1e-4

    def add_cases(n):
        nonlocal cursor
        idx = np.array([int(order[(cursor + k) % len(order)]) for k in range(n)])
        cursor += n
        ls = enc1(data.source[idx])
        lt = enc1(data.target[idx])
        pix = clip_pixels(idx)
        for k, i in enumerate(idx):
            buf["idx"].append(int(i))
            buf["cond"].append(torch.cat([ls[k], zero_lat], dim=1))
            buf["tgt"].append(torch.cat([ls[k], lt[k]], dim=1))
            buf["pix"].append(pix[k])
            if is_action[i]:
                # 9 frames [source, 4 trajectory frames, target x4] -> [enc(source), enc(frame 4), enc(target)]
                lf = enc1(data.frames[[i], 4])[0]
                rbuf["idx"].append(int(i))
                rbuf["cond"].append(torch.cat([ls[k], zero_lat, zero_lat], dim=1))
                rbuf["tgt"].append(torch.cat([ls[k], lf, lt[k]], dim=1))
                rbuf["pix"].append(pix[k])

    short = install_short_text(transformer)

    def encode_text(texts, te):
        ti = tokenizer(texts, padding="longest", max_length=common.MAX_SEQ, truncation=True,
                       add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        hs = te(ti.input_ids, ti.attention_mask).last_hidden_state
        hs = hs * ti.attention_mask.unsqueeze(-1).to(hs.dtype)  # the pipeline keeps real tokens, zeros after
        n = hs.shape[1]
        # One zero row stands for the 512 - n zero rows of the pipeline's padding (see ShortTextCrossAttn).
        short.bias = torch.zeros(n + 1)
        short.bias[n] = float(np.log(common.MAX_SEQ - n))
        return torch.cat([hs, hs.new_zeros(hs.shape[0], 1, hs.shape[2])], dim=1)

    def loss_on(b, gen_idx):
        ids = [b["idx"][j] for j in gen_idx]
        x0 = torch.stack([b["tgt"][j] for j in gen_idx])
        cond = torch.stack([b["cond"][j] for j in gen_idx])
        pix = torch.stack([b["pix"][j] for j in gen_idx])
        bs, _, nl, h, w = x0.shape
        texts = ["" if rng.random() < a.cfg_drop else prompts[i] for i in ids]
        ehs = encode_text(texts, text_encoder)
        ehi = image_encoder(pixel_values=pix, output_hidden_states=True).hidden_states[-2]
        short.n_img = ehi.shape[1]
        s = shifted_sigmas(bs, common.FLOW_SHIFT)
        noise = torch.randn_like(x0)
        sv = s.view(bs, 1, 1, 1, 1)
        xt = (1 - sv) * x0 + sv * noise
        inp = torch.cat([xt, mask_channels(bs, nl, h, w), cond], dim=1)
        pred = transformer(hidden_states=inp, timestep=s * 1000, encoder_hidden_states=ehs,
                           encoder_hidden_states_image=ehi, return_dict=False)[0]
        return ((pred - (noise - x0)) ** 2).mean()

    # Warm the buffer.
    while len(buf["idx"]) < a.batch:
        add_cases(a.new_per_step * 2)

    t0 = time.time()
    last_ckpt = t0
    transformer.train()
    text_encoder.train()
    image_encoder.train()

    def save():
        torch.save(dict(modules=modules.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                        mean=lat_mean, std=lat_std, order=order, cursor=cursor), ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    while time.time() - t0 < a.minutes * 60:
        if cursor < len(order):
            add_cases(a.new_per_step)
        sel = rng.choice(len(buf["idx"]), a.batch, replace=False)
        loss = loss_on(buf, sel)
        loss_edit = loss.item()
        lr_r = ""
        if a.reason_every and step % a.reason_every == 0 and len(rbuf["idx"]) >= 8:
            rsel = rng.choice(len(rbuf["idx"]), min(16, len(rbuf["idx"])), replace=False)
            lr = loss_on(rbuf, rsel)
            loss = loss + 0.5 * lr
            lr_r = f"{lr.item():.5f}"
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(modules.parameters(), 1.0)
        # Linear warm-up over 50 steps; linear decay to 10% over the last 30% of the time budget.
        left = 1.0 - (time.time() - t0) / (a.minutes * 60)
        factor = min(1.0, (step + 1) / 50, max(0.1, left / 0.3))
        for g in opt.param_groups:
            g["lr"] = a.lr * factor
        opt.step()
        step += 1
        decay = min(0.995, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), modules.parameters()):
                pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
        with open(log_path, "a") as f:
            f.write(f"{step},{time.time() - t0:.1f},{loss_edit:.5f},{lr_r},{len(buf['idx'])}\n")
        if step % 10 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s loss {loss_edit:.4f} cases {len(buf['idx'])} "
                  f"reason {len(rbuf['idx'])}", flush=True)
        if time.time() - last_ckpt > a.ckpt_every:
            save()
            last_ckpt = time.time()
    save()
    print(f"done: {step} steps in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
