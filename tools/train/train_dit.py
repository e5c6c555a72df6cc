#!/usr/bin/env python
"""Stage 2: train the tiny ChronoEditTransformer3DModel (+ umT5 and CLIP tower jointly) with flow matching.

    nice python tools/train/train_dit.py --shards /tmp/tr/shards --vae /tmp/tr/vae --out /tmp/tr/dit --minutes 55

The VAE from stage 1 is frozen. Every trajectory frame of a case is VAE-encoded once (a few new cases per step,
kept in a replay buffer); shards must have --frames = rope_temporal_skip_len (8: source, 6 intermediate
frames, target), one frame per temporal RoPE position. The frame-wise VAE (common.make_framewise) makes the
latent of a video chunk that of its newest frame, so these latents are exactly those of the pipeline's videos.
Conditioned exactly as ChronoEditPipeline.prepare_latents builds the condition: mask channels (4, ones on
latent frame 0) + normalised VAE latents of [source, zeros...]. Targets:
  - edit pairs: latent frames [source, target] (the 5-frame video [source, target x4]; default RoPE
    positions [0, 7]);
  - temporal reasoning, every --reason-every steps, a batch of --reason-batch cases of every category:
    r intermediate frames (r cycling through --reason-frames, e.g. 6 and 3) at the engine's positions
    (adaptive::plan::temporal_positions: r = 6 -> 0..7, r = 3 -> [0, 2, 4, 5, 7]), the frames the
    trajectory has at those times (simulated motion for actions, cross-fades otherwise).
Flow matching as Wan: x_t = (1 - s) x0 + s noise, target = noise - x0, timestep = 1000 s, s drawn uniform
then shifted by FLOW_SHIFT (the saved scheduler's flow_shift). 10% of prompts are dropped to "" for CFG.
--mask-weight W weights the squared error of the latent cells the true edit touches (the case's edit mask,
max-pooled to the latent grid) by 1 + W on every frame after the source, renormalised per sample and frame
so that a sample's total weight is unchanged: an object edit touches ~3 % of the cells, which otherwise
carry ~3 % of its loss.
Resumes from --out/ckpt.pt. Log: --out/log.csv (step,seconds,loss,loss_reason,cases).
"""

import argparse
import copy
import json
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


def encode_text(tokenizer, text_encoder, short, texts):
    """umT5 states of `texts` as the pipeline pads them (real tokens, then zero rows to 512), in the short
    form ShortTextCrossAttn reads: the real tokens plus one zero row whose logit `short.bias` raises by
    log(512 - L)."""
    ti = tokenizer(texts, padding="longest", max_length=common.MAX_SEQ, truncation=True,
                   add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    dev = next(text_encoder.parameters()).device
    return encode_ids(text_encoder, short, ti.input_ids.to(dev), ti.attention_mask.to(dev))


def encode_ids(text_encoder, short, ids, mask):
    """encode_text on token ids already padded to the longest prompt of the batch."""
    hs = text_encoder(ids, mask).last_hidden_state
    hs = hs * mask.unsqueeze(-1).to(hs.dtype)  # the pipeline keeps real tokens, zeros after
    n = hs.shape[1]
    short.bias = torch.zeros(n + 1, device=hs.device)
    short.bias[n] = float(np.log(common.MAX_SEQ - n))
    return torch.cat([hs, hs.new_zeros(hs.shape[0], 1, hs.shape[2])], dim=1)


class TokenBank:
    """Every training prompt tokenised once (as encode_text would), plus the empty prompt for CFG drops;
    `batch` gives a batch's ids and mask trimmed to its longest prompt, exactly what the tokenizer's
    padding="longest" gives for that batch."""

    def __init__(self, tokenizer, prompts, device):
        ti = tokenizer(list(prompts) + [""], padding="longest", max_length=common.MAX_SEQ, truncation=True,
                       add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        self.ids = ti.input_ids.to(device)
        self.mask = ti.attention_mask.to(device)
        self.lens = ti.attention_mask.sum(1).numpy()  # on the host: no device sync per batch
        self.empty = len(prompts)

    def batch(self, rows):
        """rows: numpy indices (len(prompts) = the empty prompt)."""
        n = int(self.lens[rows].max())
        rows = torch.from_numpy(rows).to(self.ids.device)
        return self.ids[rows, :n], self.mask[rows, :n]


def temporal_positions(r, skip_len):
    """The engine's adaptive::plan::temporal_positions: input at 0, output at skip_len - 1, the r
    reasoning frames spread evenly between them (round half up)."""
    if skip_len < 2 or r + 2 > skip_len:
        return list(range(r + 2))
    last = skip_len - 1
    return [0] + [(2 * i * last + (r + 1)) // (2 * (r + 1)) for i in range(1, r + 1)] + [last]


def install_positions(transformer):
    """Let ChronoEdit's 3D RoPE take its temporal positions explicitly: after this, setting
    `transformer.rope.positions` to a list (one per latent frame) uses those positions, as the engine's
    ForwardOptions::temporal_positions does; `None` keeps the stock behaviour. The module and its state
    dict are unchanged (only its forward is wrapped)."""
    rope = transformer.rope
    stock = rope.forward
    rope.positions = None

    def forward(hidden_states):
        if rope.positions is None:
            return stock(hidden_states)
        _, _, f, h, w = hidden_states.shape
        pt, ph, pw = rope.patch_size
        f, h, w = f // pt, h // ph, w // pw
        assert len(rope.positions) == f
        d = rope.attention_head_dim
        sizes = [d - 2 * (d // 3), d // 3, d // 3]
        pos = torch.tensor(rope.positions, device=rope.freqs_cos.device)
        out = []
        for table in (rope.freqs_cos, rope.freqs_sin):
            t_, h_, w_ = table.split(sizes, dim=1)
            parts = [
                t_[pos].view(f, 1, 1, -1).expand(f, h, w, -1),
                h_[:h].view(1, h, 1, -1).expand(f, h, w, -1),
                w_[:w].view(1, 1, w, -1).expand(f, h, w, -1),
            ]
            out.append(torch.cat(parts, dim=-1).reshape(1, f * h * w, 1, -1))
        return tuple(out)

    rope.forward = forward
    # The explicit path must reproduce the stock one where they overlap.
    for n, pos in ((2, [0, rope.temporal_skip_len - 1]), (3, [0, 1, 2])):
        x = torch.zeros(1, 1, n, 4, 4)
        want = stock(x)
        rope.positions = pos
        got = forward(x)
        rope.positions = None
        assert all((g - w_).abs().max() == 0 for g, w_ in zip(got, want)), "RoPE positions differ from stock"
    return rope


def shifted_sigmas(n, shift, gen=None, device="cpu"):
    u = torch.rand(n, generator=gen).to(device) if gen is not None else torch.rand(n, device=device)
    return shift * u / (1 + (shift - 1) * u)


class Encoder:
    """Frozen VAE + the pipeline's latent normalisation."""

    def __init__(self, vae, mean, std):
        self.vae = vae
        z = vae.config.z_dim
        dev = next(vae.parameters()).device
        self.mean = torch.tensor(mean, device=dev).view(1, z, 1, 1, 1)
        self.std = torch.tensor(std, device=dev).view(1, z, 1, 1, 1)

    @torch.no_grad()
    def raw(self, video):
        return self.vae.encode(video).latent_dist.mode()

    def norm(self, lat):
        return (lat - self.mean) / self.std


def cond_video(src_video, n_frames):
    """[source, zeros...] as prepare_latents builds it."""
    b, c, _, h, w = src_video.shape
    return torch.cat([src_video[:, :, :1], src_video.new_zeros(b, c, n_frames - 1, h, w)], dim=2)


def mask_channels(b, n_lat, h, w, device="cpu"):
    m = torch.zeros(b, 4, n_lat, h, w, device=device)
    m[:, :, 0] = 1.0
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shards", required=True)
    ap.add_argument("--vae", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=55)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--new-per-step", type=int, default=8, help="cases encoded per step until all are in")
    ap.add_argument("--preload", action="store_true", help="encode every case before the first step")
    ap.add_argument("--reason-every", type=int, default=3, help="a reasoning batch every N steps (0: never)")
    ap.add_argument("--reason-batch", type=int, default=8)
    ap.add_argument("--reason-weight", type=float, default=0.5)
    ap.add_argument("--reason-frames", default="6,3",
                    help="reasoning frame counts r, cycled (positions as the engine's temporal_positions)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=50, help="linear learning-rate warm-up, steps")
    ap.add_argument("--ema", type=float, default=0.995, help="largest EMA decay")
    ap.add_argument("--cfg-drop", type=float, default=0.1)
    ap.add_argument("--mask-weight", type=float, default=0.0,
                    help="extra loss weight on the latent cells inside the true edit mask (0: plain MSE)")
    ap.add_argument("--ckpt-every", type=float, default=240, help="seconds")
    ap.add_argument("--print-every", type=int, default=10, help="steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze-encoders", action="store_true",
                    help="keep umT5 and the CLIP tower at their random initialisation (the A/B against joint training)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N cases of the shards")
    ap.add_argument("--transformer", default="{}",
                    help='JSON overrides of common.TRANSFORMER_CFG, e.g. \'{"num_layers": 8}\' (new runs only)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    dev = torch.device(a.device)
    # Full f32 while encoding (the frame-wise checks below hold to 1e-4 only without TF32; PyTorch enables
    # TF32 convolutions by default); TF32 is switched on for the training steps alone.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    os.makedirs(a.out, exist_ok=True)

    from diffusers import AutoencoderKLWan
    from PIL import Image

    data = common.Shards(a.shards, limit=a.limit)
    prompts = [common.prompt_clean(p) for p in data.prompts]

    # Tokenizer from the training instructions (written once, reused on resume).
    tok_dir = os.path.join(a.out, "tokenizer")
    from transformers import PreTrainedTokenizerFast

    if os.path.exists(os.path.join(tok_dir, "tokenizer.json")):
        tokenizer = PreTrainedTokenizerFast.from_pretrained(tok_dir)
    else:
        tokenizer = common.wrap_tokenizer(common.train_tokenizer(prompts))
        tokenizer.save_pretrained(tok_dir)
    vocab = len(tokenizer)
    tokens = TokenBank(tokenizer, prompts, dev)

    vae = AutoencoderKLWan.from_pretrained(a.vae).eval().to(dev)
    for p in vae.parameters():
        p.requires_grad_(False)

    ckpt_path = os.path.join(a.out, "ckpt.pt")
    resume = os.path.exists(ckpt_path)
    ck = torch.load(ckpt_path, weights_only=False, map_location="cpu") if resume else None
    overrides = ck.get("transformer_cfg", {}) if resume else json.loads(a.transformer)
    transformer = common.make_transformer(overrides)
    text_encoder = common.make_text_encoder(vocab)
    image_encoder, image_processor = common.make_image_encoder()
    image_processor.save_pretrained(os.path.join(a.out, "image_processor"))
    modules = torch.nn.ModuleDict(dict(transformer=transformer, text_encoder=text_encoder, image_encoder=image_encoder))
    if a.freeze_encoders:
        for p in list(text_encoder.parameters()) + list(image_encoder.parameters()):
            p.requires_grad_(False)
    log_path = os.path.join(a.out, "log.csv")
    if resume:
        modules.load_state_dict(ck["modules"])
    modules.to(dev)
    ema = copy.deepcopy(modules)
    trainable = [p for p in modules.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=a.lr, weight_decay=0.01, betas=(0.9, 0.99), fused=dev.type == "cuda")
    if resume:
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, lat_mean, lat_std, order, cursor = ck["step"], ck["mean"], ck["std"], ck["order"], ck["cursor"]
        rng = np.random.default_rng(a.seed + step)
        del ck
        print(f"resumed at step {step}", flush=True)
    else:
        step = 0
        order = rng.permutation(len(data))
        cursor = 0
        # Latent statistics of the frozen VAE on 96 cases (edit videos) -> the pipeline's latents_mean/std.
        idx = order[:96]
        with torch.no_grad():
            lats = torch.cat([vae.encode(common.edit_video(data, idx[i : i + 16]).to(dev)).latent_dist.mode()
                              for i in range(0, len(idx), 16)])
        lat_mean = [round(float(v), 4) for v in lats.mean(dim=(0, 2, 3, 4))]
        lat_std = [round(float(v), 4) for v in lats.std(dim=(0, 2, 3, 4))]
        with open(log_path, "w") as f:
            f.write("step,seconds,loss,loss_reason,cases\n")
    ema_params = list(ema.parameters())
    model_params = list(modules.parameters())
    for p in ema_params:
        p.requires_grad_(False)
    print("latents mean", lat_mean, "std", lat_std, flush=True)
    enc = Encoder(vae, lat_mean, lat_std)

    # The stage-1 VAE is frame-wise (common.make_framewise): encode([a, b, b, b, b]) == [enc(a), enc(b)] and
    # encode([a, zeros x4]) == [enc(a), enc(zeros)], so cases are encoded one picture at a time. Checked here.
    def enc1(pics_u8):
        return enc.norm(enc.raw(common.to_video(pics_u8[:, None]).to(dev)))

    zero_lat = enc.norm(enc.raw(torch.zeros(1, 3, 1, common.SIZE, common.SIZE, device=dev)))[0]
    chk = np.array([int(order[0]), int(order[1])])
    full = enc.norm(enc.raw(common.edit_video(data, chk).to(dev)))
    per = torch.cat([enc1(data.source[chk]), enc1(data.target[chk])], dim=2)
    assert (full - per).abs().max() < 1e-4, f"VAE is not frame-wise: {(full - per).abs().max()}"
    full = enc.norm(enc.raw(cond_video(common.edit_video(data, chk), 5).to(dev)))
    assert (full[:, :, 1] - zero_lat[:, 0]).abs().max() < 1e-4

    n_traj = data.frames.shape[1]
    last = n_traj - 1
    assert last == transformer.config.rope_temporal_skip_len - 1, (
        f"shards need --frames {transformer.config.rope_temporal_skip_len} (one per temporal RoPE position)")

    # Encoded cases: slot k holds case order[k] (every trajectory frame, frame 0 = source, last = target,
    # one per latent frame, and the CLIP pixels of the source); slots [0, filled) are ready.
    n_cases = len(order)
    lat_all = torch.empty((n_cases, zero_lat.shape[0], n_traj) + tuple(zero_lat.shape[2:]), device=dev)
    s_clip = image_processor.crop_size["height"]
    pix_all = torch.empty(n_cases, 3, s_clip, s_clip, device=dev)
    case_of_slot = np.asarray(order, dtype=np.int64)
    filled = 0

    @torch.no_grad()
    def fill(upto, chunk=256):
        nonlocal filled
        upto = min(upto, n_cases)
        while filled < upto:
            end = min(upto, filled + chunk)
            idx = np.asarray(order[filled:end])
            lat_all[filled:end] = torch.cat([enc1(data.frames[idx, f]) for f in range(n_traj)], dim=2)
            imgs = [Image.fromarray(data.source[i]) for i in idx]
            pix_all[filled:end] = common.clip_pixels(imgs).to(dev)
            filled = end

    t_fill = time.time()
    # A resumed run re-encodes the cases it had (`cursor` of them); the checkpoint stores `filled` as `cursor`.
    first = n_cases if a.preload else max(cursor, a.batch, a.reason_batch, a.new_per_step * 2)
    fill(first, chunk=1024 if dev.type == "cuda" else 256)
    if a.preload:
        print(f"encoded {filled} cases in {time.time() - t_fill:.0f}s", flush=True)

    # Edit masks on the latent grid (a cell counts if any of its pixels changes), indexed by case.
    lat_mask = common.latent_edit_mask(data.mask, zero_lat.shape[-1]).to(dev)

    short = install_short_text(transformer)
    rope = install_positions(transformer)
    reason_r = [int(v) for v in a.reason_frames.split(",")]

    def loss_on(slots, frames, positions=None):
        """Flow-matching loss on the latent frames `frames` of the encoded cases in `slots`; the frames take
        temporal RoPE positions `positions` (None: the model's default for that length)."""
        rows = case_of_slot[slots]
        rows_case = rows.copy()
        rows[rng.random(len(rows)) < a.cfg_drop] = tokens.empty
        slots = torch.from_numpy(np.asarray(slots, dtype=np.int64)).to(dev)
        x0 = lat_all[slots][:, :, frames]
        pix = pix_all[slots]
        bs, _, nl, h, w = x0.shape
        cond = torch.cat([x0[:, :, :1], zero_lat.unsqueeze(0).expand(bs, -1, nl - 1, -1, -1)], dim=2)
        ehs = encode_ids(text_encoder, short, *tokens.batch(rows))
        ehi = image_encoder(pixel_values=pix, output_hidden_states=True).hidden_states[-2]
        short.n_img = ehi.shape[1]
        s = shifted_sigmas(bs, common.FLOW_SHIFT, device=dev)
        noise = torch.randn_like(x0)
        sv = s.view(bs, 1, 1, 1, 1)
        xt = (1 - sv) * x0 + sv * noise
        inp = torch.cat([xt, mask_channels(bs, nl, h, w, dev), cond], dim=1)
        rope.positions = positions
        pred = transformer(hidden_states=inp, timestep=s * 1000, encoder_hidden_states=ehs,
                           encoder_hidden_states_image=ehi, return_dict=False)[0]
        rope.positions = None
        err = (pred - (noise - x0)) ** 2
        if a.mask_weight > 0:
            w = 1.0 + a.mask_weight * lat_mask[torch.from_numpy(rows_case).to(dev)]  # [bs, h, w]
            w = w / w.mean(dim=(1, 2), keepdim=True)
            w = torch.cat([torch.ones_like(w).unsqueeze(1), w.unsqueeze(1).expand(-1, nl - 1, -1, -1)], dim=1)
            err = err * w.unsqueeze(1)
        return err.mean()

    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    t0 = time.time()
    last_ckpt = t0
    transformer.train()
    text_encoder.train()
    image_encoder.train()

    def save():
        torch.save(dict(modules=modules.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                        mean=lat_mean, std=lat_std, order=order, cursor=filled, transformer_cfg=overrides),
                   ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    # Losses stay on the device until a print step, so the host never waits for the device mid-run.
    pending = []

    def flush_log():
        with open(log_path, "a") as f:
            for st, t, le, lr, n in pending:
                lr = "" if lr is None else f"{lr.item():.5f}"
                f.write(f"{st},{t:.1f},{le.item():.5f},{lr},{n}\n")
        pending.clear()

    while time.time() - t0 < a.minutes * 60:
        if filled < n_cases:
            fill(filled + a.new_per_step)
        sel = rng.choice(filled, a.batch, replace=False)
        loss = loss_on(sel, [0, last])
        loss_edit = loss.detach()
        lr_r = None
        if a.reason_every and step % a.reason_every == 0:
            # Temporal reasoning: r intermediate frames at the engine's positions (adaptive.plan).
            r = reason_r[(step // a.reason_every) % len(reason_r)]
            pos = temporal_positions(r, last + 1)
            rsel = rng.choice(filled, a.reason_batch, replace=False)
            lr_r = loss_on(rsel, pos, pos)
            loss = loss + a.reason_weight * lr_r
            lr_r = lr_r.detach()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        # Linear warm-up; linear decay to 10% over the last 30% of the time budget.
        left = 1.0 - (time.time() - t0) / (a.minutes * 60)
        factor = min(1.0, (step + 1) / a.warmup, max(0.1, left / 0.3))
        for g in opt.param_groups:
            g["lr"] = a.lr * factor
        opt.step()
        step += 1
        decay = min(a.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, [p.detach() for p in model_params], alpha=1 - decay)
        pending.append((step, time.time() - t0, loss_edit, lr_r, filled))
        if step % a.print_every == 0:
            lr_s = "" if lr_r is None else f"{lr_r.item():.4f}"
            print(f"step {step} t {time.time() - t0:.0f}s loss {loss_edit.item():.4f} reason {lr_s} "
                  f"cases {filled}", flush=True)
            flush_log()
        if time.time() - last_ckpt > a.ckpt_every:
            flush_log()
            save()
            last_ckpt = time.time()
    flush_log()
    save()
    print(f"done: {step} steps in {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
