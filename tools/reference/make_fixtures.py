#!/usr/bin/env python
"""Build tiny random ChronoEdit pipelines and record reference inputs/outputs.

Run with the reference venv (torch + diffusers + transformers + tokenizers, see README.md):

    python tools/reference/make_fixtures.py                  # all cases + schedulers
    python tools/reference/make_fixtures.py --only tiny_a    # one case

Writes tests/fixtures/<case>/{pipeline/, input.png, meta.json, reference.safetensors} and
tests/fixtures/schedulers/{meta.json, reference.safetensors}. Format: tools/reference/FIXTURES.md.
Everything is f32 on CPU and seeded, so re-running reproduces the same files (up to float summation order
of the installed torch build).
"""

import argparse
import json
import os
import shutil
import sys

os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_schedulers import make_scheduler_fixtures  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures")

MAX_SEQ = 512

# ---------------------------------------------------------------------------------------------------------
# Tokenizer: a small umT5-style SentencePiece Unigram tokenizer trained on text written here (nothing is
# downloaded).
# ---------------------------------------------------------------------------------------------------------

CORPUS = """
Change the colour of the car to red. Make the sky blue and add white clouds. Turn the green apple into a yellow
banana. Remove the person standing on the left. Add a small black cat sitting on the wooden table. Replace the
dog with a brown horse running in the field. Make the house look older, with broken windows and a grey roof.
Put a hat on the man. Give the woman a red umbrella in the rain. The ball falls off the table and rolls onto the
floor. The glass tips over and the water spills across the kitchen counter. Open the door and let the light in.
Close the window. Move the chair closer to the fireplace. Paint the wall purple, orange, pink or violet. Turn the
day into night with stars and a bright moon. Add snow on the mountains. Melt the ice cube in the sun. The candle
burns down slowly. Stack three blocks on top of each other. Push the box to the right. Pull the rope. Throw the
stone into the lake and watch the ripples spread. The bird flies away from the tree. A boy kicks the football.
The girl picks up the flower. Pour coffee into the cup. Cut the bread into slices. Fold the paper in half. Break
the plate into pieces. Inflate the balloon until it pops. Light the lamp. Turn off the television. Zoom in on the
face. Rotate the bottle upside down. Make it look like a painting, a photo, a sketch or a cartoon. The user wants
to transform the image by adding a cute mouse inside the floral teacup; it should appear relaxed and cheerful!
Keep the background unchanged? Yes, keep everything else the same: lighting, shadows, and the camera angle.
Blurry, low quality, distorted, ugly, bad anatomy, extra fingers, watermark, text, jpeg artifacts, worst quality.
Numbers 0 1 2 3 4 5 6 7 8 9 10 20 100 and symbols & - ( ) " ' , . ; : ! ? / % + = are common too.
Big small tall short round square circle triangle star heart metal glass plastic stone wood cloth paper water fire.
""".strip()


def _proto_fields(buf):
    """Minimal protobuf wire-format reader (the venv has no protobuf package): [(field, value)]."""

    def varint(i):
        r = shift = 0
        while True:
            x = buf[i]
            i += 1
            r |= (x & 0x7F) << shift
            shift += 7
            if x < 0x80:
                return r, i

    i, out = 0, []
    while i < len(buf):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(i)
        elif wire == 2:
            n, i = varint(i)
            v, i = buf[i : i + n], i + n
        elif wire == 5:
            v, i = buf[i : i + 4], i + 4
        elif wire == 1:
            v, i = buf[i : i + 8], i + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, v))
    return out


def build_tokenizer(vocab_size):
    """A small umT5-style tokenizer, made the way the real one was: a SentencePiece Unigram model
    (nmt_nfkc normalisation, <pad>=0, </s>=1, <unk>=2, no byte fallback) trained on CORPUS, turned into
    transformers' T5Tokenizer (Precompiled normaliser from the model's charsmap, WhitespaceSplit + Metaspace
    pre-tokenizer, `</s>` appended by the post-processor)."""
    import tempfile

    import sentencepiece as spm
    from transformers import T5Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write(CORPUS + "\n")
        prefix = os.path.join(tmp, "sp")
        spm.SentencePieceTrainer.train(
            input=corpus,
            model_prefix=prefix,
            model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            character_coverage=1.0,
            normalization_rule_name="nmt_nfkc",
            byte_fallback=False,
            num_threads=1,
            minloglevel=2,
        )
        with open(prefix + ".model", "rb") as f:
            proto = f.read()
        sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    normalizer_spec = [v for f, v in _proto_fields(proto) if f == 3][0]
    charsmap = bytes([v for f, v in _proto_fields(normalizer_spec) if f == 2][0])
    vocab = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())]
    assert [p for p, _ in vocab[:3]] == ["<pad>", "</s>", "<unk>"], vocab[:3]
    tokenizer = T5Tokenizer(
        vocab=vocab,
        _spm_precompiled_charsmap=charsmap,
        extra_ids=0,
        model_max_length=MAX_SEQ,
    )
    # SentencePiece itself and the transformers tokenizer must agree (before padding/truncation).
    for text in CORPUS.splitlines()[:5] + ["Tom & Jerry <b> caf\u00e9 \uff21\uff22 \ufb01sh \u7f16"]:
        assert tokenizer(text).input_ids == sp.encode(text) + [1], text
    return tokenizer


TOKENIZER_STRINGS = [
    "Turn the red apple into a yellow banana.",
    "  Make   the SKY blue,\tand ADD white clouds!!  \n Keep the background unchanged?  ",
    "Tom &amp; Jerry: move the chair (left) &lt;slowly&gt; &quot;now&quot; -- 100% done; it's 3:45.",
    "xylophqz qwertyuiop \u7f16\u8f91 \u2603 \u00e9t\u00e9 na\u00efve caf\u00e9",
    "",
    " ".join(["The ball falls off the table and rolls onto the floor."] * 60),
    # prompt_clean's ftfy pass: curly quotes, full-width letters, ligature, no-break and ideographic spaces
    "The mouse\u2019s pose \u201cnatural\u201d \u2014 cup\u2019s rim, \uff21\uff22\uff23 \ufb01sh\u00a0\u00a0and\u3000tea\u2026",
    # double-escaped entities (html.unescape runs twice) and UTF-8 read as Latin-1 (ftfy repairs it)
    "Tom &amp;amp; Jerry &lt;b&gt; caf\u00c3\u00a9 na\u00c3\u00afve",
    "a < b &amp; c",
]

# ---------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------

CASES = {
    "tiny_a": dict(
        seed=1000,
        height=32,
        width=48,
        transformer=dict(
            num_attention_heads=2,
            attention_head_dim=12,
            num_layers=2,
            ffn_dim=32,
            freq_dim=256,
            rope_max_seq_len=1024,
        ),
        vae=dict(base_dim=6, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1),
        umt5=dict(vocab=320, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, buckets=32, max_distance=128),
        clip=dict(hidden_size=24, num_heads=2, num_layers=3, intermediate=48, image_size=16, patch_size=4, proj=16),
        scheduler="unipc",
        runs={
            "plain": dict(
                prompt="Turn the red apple into a yellow banana.",
                negative_prompt="",
                steps=4,
                guidance=5.0,
                num_frames=5,
                enable_temporal_reasoning=False,
                num_temporal_reasoning_steps=0,
                seed=11,
            ),
            "reason_partial": dict(
                prompt="The glass tips over and the water spills across the kitchen counter.",
                negative_prompt="",
                steps=4,
                guidance=5.0,
                num_frames=13,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=2,
                seed=12,
            ),
            "reason_all": dict(
                prompt="Push the box to the right.",
                negative_prompt="",
                steps=4,
                guidance=5.0,
                num_frames=9,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=4,
                seed=13,
            ),
            # reasoning switched off before the first step: the 3-frame noise is cut to frames [0, -1]
            "reason_zero": dict(
                prompt="Rotate the bottle upside down.",
                negative_prompt=None,
                steps=3,
                guidance=1.0,
                num_frames=9,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=0,
                seed=14,
            ),
            # more steps, so the UniPC history (order 2, corrector) is cut mid-run
            "reason_long": dict(
                prompt="Stack three blocks on top of each other.",
                negative_prompt="",
                steps=12,
                guidance=5.0,
                num_frames=13,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=5,
                seed=15,
            ),
        },
    ),
    "tiny_b": dict(
        seed=2000,
        height=48,
        width=32,
        transformer=dict(
            num_attention_heads=3,
            attention_head_dim=20,
            num_layers=3,
            ffn_dim=40,
            freq_dim=64,
            rope_max_seq_len=256,
        ),
        vae=dict(base_dim=6, z_dim=8, dim_mult=[1, 1, 2, 2], num_res_blocks=2),
        umt5=dict(vocab=260, d_model=24, d_kv=6, num_heads=3, d_ff=40, num_layers=3, buckets=16, max_distance=64),
        clip=dict(hidden_size=20, num_heads=2, num_layers=2, intermediate=36, image_size=24, patch_size=6, proj=12),
        scheduler="euler",
        runs={
            "nocfg": dict(
                prompt="Make the sky blue and add white clouds.",
                negative_prompt=None,
                steps=3,
                guidance=1.0,
                num_frames=5,
                enable_temporal_reasoning=False,
                num_temporal_reasoning_steps=0,
                seed=21,
            ),
            "reason_partial": dict(
                prompt="Throw the stone into the lake and watch the ripples spread.",
                negative_prompt="blurry, low quality, distorted",
                steps=4,
                guidance=4.0,
                num_frames=9,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=1,
                seed=22,
            ),
            "reason_all": dict(
                prompt="The candle burns down slowly.",
                negative_prompt="",
                steps=3,
                guidance=3.5,
                num_frames=13,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=3,
                seed=23,
            ),
        },
    ),
    "heldout": dict(
        seed=3000,
        height=32,
        width=32,
        transformer=dict(
            num_attention_heads=2,
            attention_head_dim=18,
            num_layers=1,
            ffn_dim=28,
            freq_dim=32,
            rope_max_seq_len=128,
        ),
        vae=dict(base_dim=4, z_dim=12, dim_mult=[1, 2, 3, 3], num_res_blocks=1),
        umt5=dict(vocab=200, d_model=20, d_kv=5, num_heads=4, d_ff=30, num_layers=1, buckets=8, max_distance=32),
        clip=dict(hidden_size=16, num_heads=2, num_layers=2, intermediate=32, image_size=8, patch_size=4, proj=8),
        scheduler="unipc",
        runs={
            "plain": dict(
                prompt="Paint the wall purple.",
                negative_prompt="",
                steps=3,
                guidance=5.0,
                num_frames=5,
                enable_temporal_reasoning=False,
                num_temporal_reasoning_steps=0,
                seed=31,
            ),
            "reason_partial": dict(
                prompt="The bird flies away from the tree.",
                negative_prompt="",
                steps=3,
                guidance=5.0,
                num_frames=9,
                enable_temporal_reasoning=True,
                num_temporal_reasoning_steps=1,
                seed=32,
            ),
        },
    ),
}


def unipc_scheduler():
    from diffusers import UniPCMultistepScheduler

    # The ChronoEdit / Wan2.1-I2V recipe scheduler (flow matching UniPC, flow shift 5.0 as in the reference
    # inference script). Remaining arguments keep their diffusers defaults, as in the Wan I2V checkpoints.
    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=5.0,
        num_train_timesteps=1000,
        solver_order=2,
        predict_x0=True,
        solver_type="bh2",
        lower_order_final=True,
        final_sigmas_type="zero",
    )


def euler_scheduler():
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=5.0)


# ---------------------------------------------------------------------------------------------------------
# Model construction
# ---------------------------------------------------------------------------------------------------------


def perturb_constant_params(model, gen, scale=0.2):
    """Random init leaves norm gains at 1 and many biases at 0; perturb every constant parameter/buffer-free
    tensor so that a wrongly named or ignored weight changes the output."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.detach().flatten()
            if flat.numel() == 0:
                continue
            if torch.all(flat == flat[0]):
                p.add_(scale * torch.randn(p.shape, generator=gen))


def build_components(case):
    from diffusers import AutoencoderKLWan, ChronoEditTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    seed = case["seed"]
    gen = torch.Generator().manual_seed(seed + 1)

    # Tokenizer
    u = case["umt5"]
    tokenizer = build_tokenizer(u["vocab"])
    vocab_size = len(tokenizer)

    # umT5 encoder
    torch.manual_seed(seed + 2)
    t5cfg = UMT5Config(
        vocab_size=vocab_size,
        d_model=u["d_model"],
        d_kv=u["d_kv"],
        d_ff=u["d_ff"],
        num_layers=u["num_layers"],
        num_decoder_layers=u["num_layers"],
        num_heads=u["num_heads"],
        relative_attention_num_buckets=u["buckets"],
        relative_attention_max_distance=u["max_distance"],
        dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=True,
        use_cache=False,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        tie_word_embeddings=False,
    )
    text_encoder = UMT5EncoderModel(t5cfg).eval()
    perturb_constant_params(text_encoder, gen)

    # CLIP vision tower + processor
    c = case["clip"]
    torch.manual_seed(seed + 3)
    clipcfg = CLIPVisionConfig(
        hidden_size=c["hidden_size"],
        intermediate_size=c["intermediate"],
        projection_dim=c["proj"],
        num_hidden_layers=c["num_layers"],
        num_attention_heads=c["num_heads"],
        num_channels=3,
        image_size=c["image_size"],
        patch_size=c["patch_size"],
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        attention_dropout=0.0,
    )
    image_encoder = CLIPVisionModel(clipcfg).eval()
    perturb_constant_params(image_encoder, gen)
    s = c["image_size"]
    image_processor = CLIPImageProcessor(
        do_resize=True,
        size={"shortest_edge": s},
        resample=3,  # PIL bicubic
        do_center_crop=True,
        crop_size={"height": s, "width": s},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        do_convert_rgb=True,
    )

    # VAE
    v = case["vae"]
    z = v["z_dim"]
    rng = np.random.RandomState(seed + 4)
    latents_mean = [round(float(x), 4) for x in rng.uniform(-1.0, 1.0, size=z)]
    latents_std = [round(float(x), 4) for x in rng.uniform(0.8, 3.0, size=z)]
    torch.manual_seed(seed + 5)
    vae = AutoencoderKLWan(
        base_dim=v["base_dim"],
        z_dim=z,
        dim_mult=v["dim_mult"],
        num_res_blocks=v["num_res_blocks"],
        attn_scales=[],
        temperal_downsample=[False, True, True],
        dropout=0.0,
        latents_mean=latents_mean,
        latents_std=latents_std,
    ).eval()
    perturb_constant_params(vae, gen)

    # Transformer
    t = case["transformer"]
    inner = t["num_attention_heads"] * t["attention_head_dim"]
    torch.manual_seed(seed + 6)
    transformer = ChronoEditTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=t["num_attention_heads"],
        attention_head_dim=t["attention_head_dim"],
        in_channels=2 * z + 4,
        out_channels=z,
        text_dim=u["d_model"],
        freq_dim=t["freq_dim"],
        ffn_dim=t["ffn_dim"],
        num_layers=t["num_layers"],
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        image_dim=c["hidden_size"],
        added_kv_proj_dim=inner,
        rope_max_seq_len=t["rope_max_seq_len"],
        pos_embed_seq_len=None,
        rope_temporal_skip_len=8,
    ).eval()
    perturb_constant_params(transformer, gen)

    scheduler = unipc_scheduler() if case["scheduler"] == "unipc" else euler_scheduler()
    return dict(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        image_encoder=image_encoder,
        image_processor=image_processor,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
    )


def make_input_image(height, width, seed):
    """Deterministic synthetic picture: colour gradients, a disc, a rectangle and a diagonal line."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 255.0 * xx / max(width - 1, 1)
    g = 255.0 * yy / max(height - 1, 1)
    b = 127.5 + 127.5 * np.sin((xx + 2 * yy) / 5.0 + seed)
    img = np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(img, "RGB")
    d = ImageDraw.Draw(im)
    cx, cy, rad = width * 0.35, height * 0.45, min(height, width) * 0.22
    d.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=(230, 40, 30))
    d.rectangle([width * 0.6, height * 0.55, width * 0.9, height * 0.85], fill=(20, 60, 200))
    d.line([0, height - 1, width - 1, 0], fill=(250, 250, 250), width=1)
    return im


# ---------------------------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------------------------


class Recorder:
    def __init__(self):
        self.t = {}

    def __setitem__(self, k, v):
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(v)
        v = v.detach().cpu().contiguous()
        if v.dtype in (torch.float64, torch.float16, torch.bfloat16):
            v = v.float()
        if v.dtype == torch.int32:
            v = v.long()
        assert k not in self.t, k
        self.t[k] = v.clone()


def record_components(pipe, pipe_dir, case, rec, meta, image):
    from diffusers.pipelines.chronoedit.pipeline_chronoedit import prompt_clean

    seed = case["seed"]
    g = torch.Generator().manual_seed(seed + 100)
    tr = pipe.transformer
    cfg = tr.config
    h_lat, w_lat = case["height"] // 8, case["width"] // 8
    n_img = (case["clip"]["image_size"] // case["clip"]["patch_size"]) ** 2 + 1

    # Transformer forward, 3 latent frames and the 2-frame temporal-skip RoPE case.
    for key, frames, tval in (("transformer", 3, 725.25), ("transformer_2f", 2, 301.0)):
        hs = torch.randn(1, cfg.in_channels, frames, h_lat, w_lat, generator=g)
        ts = torch.tensor([tval], dtype=torch.float32)
        ehs = torch.randn(1, MAX_SEQ, cfg.text_dim, generator=g)
        # zero the padded tail as the pipeline does (prompt of 7 tokens)
        ehs[:, 7:] = 0
        ehi = torch.randn(1, n_img, cfg.image_dim, generator=g)
        with torch.no_grad():
            out = tr(hidden_states=hs, timestep=ts, encoder_hidden_states=ehs, encoder_hidden_states_image=ehi,
                     return_dict=False)[0]
        rec[f"{key}.hidden_states"] = hs
        rec[f"{key}.timestep"] = ts
        rec[f"{key}.encoder_hidden_states"] = ehs
        rec[f"{key}.encoder_hidden_states_image"] = ehi
        rec[f"{key}.output"] = out

    # VAE encode (5 frames -> 2 latent frames) and decode (3 latent frames -> 9 frames)
    vae = pipe.vae
    x = torch.rand(1, 3, 5, case["height"], case["width"], generator=g) * 2 - 1
    with torch.no_grad():
        dist = vae.encode(x).latent_dist
    rec["vae.encode.input"] = x
    rec["vae.encode.mean"] = dist.mean
    rec["vae.encode.logvar"] = dist.logvar
    zl = torch.randn(1, vae.config.z_dim, 3, h_lat, w_lat, generator=g)
    with torch.no_grad():
        dec = vae.decode(zl, return_dict=False)[0]
    rec["vae.decode.input"] = zl
    rec["vae.decode.output"] = dec

    # umT5 on a tokenised prompt
    prompt = prompt_clean("Add a small black cat sitting on the wooden table.")
    ti = pipe.tokenizer([prompt], padding="max_length", max_length=MAX_SEQ, truncation=True,
                        add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    with torch.no_grad():
        lhs = pipe.text_encoder(ti.input_ids, ti.attention_mask).last_hidden_state
    rec["umt5.input_ids"] = ti.input_ids
    rec["umt5.attention_mask"] = ti.attention_mask
    rec["umt5.last_hidden_state"] = lhs
    meta["umt5_prompt"] = prompt

    # Tokenizer
    cleaned = []
    from tokenizers import Tokenizer

    raw_tok = Tokenizer.from_file(os.path.join(pipe_dir, "tokenizer", "tokenizer.json"))
    raw_tok.no_padding()
    raw_tok.no_truncation()
    for i, s in enumerate(TOKENIZER_STRINGS):
        cs = prompt_clean(s)
        cleaned.append(cs)
        ti = pipe.tokenizer([cs], padding="max_length", max_length=MAX_SEQ, truncation=True,
                            add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
        rec[f"tokenizer.ids.{i}"] = ti.input_ids
        rec[f"tokenizer.mask.{i}"] = ti.attention_mask
        # The tokenizer.json alone must reproduce AutoTokenizer (up to truncation/padding).
        enc = raw_tok.encode(cs).ids
        n = int(ti.attention_mask.sum())
        if len(enc) <= MAX_SEQ:
            assert enc == ti.input_ids[0, :n].tolist(), (s, enc, ti.input_ids[0, :n].tolist())
        else:
            # HF truncation keeps the first MAX_SEQ-1 pieces and re-appends </s>
            assert enc[: MAX_SEQ - 1] == ti.input_ids[0, : MAX_SEQ - 1].tolist()
            assert ti.input_ids[0, MAX_SEQ - 1].item() == 1
    meta["tokenizer_strings"] = TOKENIZER_STRINGS
    meta["tokenizer_strings_clean"] = cleaned

    # CLIP
    pv = pipe.image_processor(images=image, return_tensors="pt").pixel_values
    with torch.no_grad():
        o = pipe.image_encoder(pixel_values=pv, output_hidden_states=True)
    rec["clip.pixel_values"] = pv
    rec["clip.penultimate"] = o.hidden_states[-2]
    rec["clip.last_hidden_state"] = o.last_hidden_state

    # The pipeline's own preprocessing of input.png for the VAE condition: (1,3,H,W) in [-1,1].
    rec["image.preprocessed"] = pipe.video_processor.preprocess(image, height=case["height"], width=case["width"])


def record_run(pipe, case, name, run, rec, image):
    z = pipe.vae.config.z_dim
    nf = run["num_frames"] if run["enable_temporal_reasoning"] else 5
    n_lat = (nf - 1) // 4 + 1
    shape = (1, z, n_lat, case["height"] // 8, case["width"] // 8)
    torch.manual_seed(run["seed"])
    latents = torch.randn(shape, dtype=torch.float32)

    calls = []
    decodes = []
    tr = pipe.transformer
    orig_forward = tr.forward

    def fwd(*args, **kw):
        out = orig_forward(*args, **kw)
        calls.append(dict(hidden_states=kw["hidden_states"].clone(), timestep=kw["timestep"].clone(),
                          ehs=kw["encoder_hidden_states"].clone(), ehi=kw["encoder_hidden_states_image"].clone(),
                          out=out[0].clone()))
        return out

    vae = pipe.vae
    orig_decode = vae.decode

    def dec(zs, *a, **kw):
        decodes.append(zs.clone())
        return orig_decode(zs, *a, **kw)

    prepared = []
    orig_prepare = pipe.prepare_latents

    def prep(*a, **kw):
        out = orig_prepare(*a, **kw)
        prepared.append((out[0].clone(), out[1].clone()))
        return out

    step_latents = []

    def cb(p, i, t, kwargs):
        step_latents.append(kwargs["latents"].clone())
        return {}

    shim = False
    stops_early = run["enable_temporal_reasoning"] and run["num_temporal_reasoning_steps"] < run["steps"]
    if stops_early and not hasattr(pipe.scheduler, "model_outputs"):
        # FlowMatchEulerDiscreteScheduler keeps no solver history, and diffusers' pipeline then fails with
        # AttributeError when reasoning stops early (it reads scheduler.model_outputs / last_sample). With an
        # empty history the truncation reduces to slicing latents and condition, which is what we record.
        pipe.scheduler.model_outputs = []
        pipe.scheduler.last_sample = None
        shim = True
    tr.forward = fwd
    vae.decode = dec
    pipe.prepare_latents = prep
    try:
        out = pipe(
            image=image,
            prompt=run["prompt"],
            negative_prompt=run["negative_prompt"],
            height=case["height"],
            width=case["width"],
            num_frames=run["num_frames"],
            num_inference_steps=run["steps"],
            guidance_scale=run["guidance"],
            latents=latents.clone(),
            output_type="np",
            max_sequence_length=MAX_SEQ,
            enable_temporal_reasoning=run["enable_temporal_reasoning"],
            num_temporal_reasoning_steps=run["num_temporal_reasoning_steps"],
            callback_on_step_end=cb,
            callback_on_step_end_tensor_inputs=["latents"],
        ).frames
    finally:
        del tr.forward
        del vae.decode
        del pipe.prepare_latents
        if shim:
            del pipe.scheduler.model_outputs
            del pipe.scheduler.last_sample

    cfg_on = run["guidance"] > 1.0
    per_step = 2 if cfg_on else 1
    assert len(calls) == per_step * run["steps"], (len(calls), run["steps"])
    first = calls[0]
    p = f"run.{name}"
    rec[f"{p}.latents"] = latents
    rec[f"{p}.prompt_embeds"] = first["ehs"]
    if cfg_on:
        rec[f"{p}.negative_prompt_embeds"] = calls[1]["ehs"]
    rec[f"{p}.image_embeds"] = first["ehi"]
    assert len(prepared) == 1
    prep_latents, condition = prepared[0]
    assert torch.equal(prep_latents, latents)
    rec[f"{p}.condition"] = condition
    if run["enable_temporal_reasoning"] and run["num_temporal_reasoning_steps"] == 0:
        # cut to frames [0, -1] before the first transformer call
        latents_used, condition_used = latents[:, :, [0, -1]], condition[:, :, [0, -1]]
    else:
        latents_used, condition_used = latents, condition
    assert torch.equal(first["hidden_states"][:, :z], latents_used)
    assert torch.equal(first["hidden_states"][:, z:], condition_used)
    ts = []
    for i in range(run["steps"]):
        c = calls[per_step * i]
        ts.append(c["timestep"][0].item())
        rec[f"{p}.step.{i}.noise_pred_cond"] = c["out"]
        if cfg_on:
            rec[f"{p}.step.{i}.noise_pred_uncond"] = calls[per_step * i + 1]["out"]
        rec[f"{p}.step.{i}.latents"] = step_latents[i]
    rec[f"{p}.timesteps"] = torch.tensor(ts, dtype=torch.float32)

    # Denormalised latents passed to decode (reassembled when the reasoning video is decoded in two parts).
    if len(decodes) == 1:
        final = decodes[0]
    else:
        assert len(decodes) == 2
        final = torch.cat([decodes[1], decodes[0][:, :, -1:]], dim=2)
        assert torch.equal(decodes[0][:, :, :1], decodes[1][:, :, :1])
    rec[f"{p}.final_latents"] = final
    frames = torch.from_numpy(np.asarray(out[0])).permute(0, 3, 1, 2)  # (F, H, W, 3) -> (F, 3, H, W)
    assert frames.shape[1:] == (3, case["height"], case["width"]), frames.shape
    rec[f"{p}.frames"] = frames
    return dict(
        decode_calls=[list(d.shape) for d in decodes],
        timesteps=ts,
        latent_shape=list(shape),
        output_frames=int(frames.shape[0]),
        euler_history_shim=shim,
    )


def dir_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def check_folder(pipe_dir):
    bad = []
    for root, _, files in os.walk(pipe_dir):
        for f in files:
            if f.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl")):
                bad.append(os.path.join(root, f))
    assert not bad, f"pickle weights written: {bad}"


def make_case(name):
    from diffusers import ChronoEditPipeline

    case = CASES[name]
    out_dir = os.path.join(FIXTURES, name)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    pipe_dir = os.path.join(out_dir, "pipeline")

    comps = build_components(case)
    pipe = ChronoEditPipeline(**comps)
    pipe.save_pretrained(pipe_dir, safe_serialization=True)
    check_folder(pipe_dir)
    # Without torchvision transformers records its PIL fallback class; name the class the real checkpoints
    # name (it loads back to the same PIL-based processor, checked by from_pretrained below).
    index_path = os.path.join(pipe_dir, "model_index.json")
    with open(index_path) as f:
        index = json.load(f)
    if index.get("image_processor") == ["transformers", "CLIPImageProcessorPil"]:
        index["image_processor"] = ["transformers", "CLIPImageProcessor"]
        with open(index_path, "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)
            f.write("\n")

    # Everything below uses the pipeline loaded back from disk: the fixture folder is what gets tested.
    pipe = ChronoEditPipeline.from_pretrained(pipe_dir, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    assert type(pipe.scheduler) is type(comps["scheduler"])
    # Loaded weights must equal the built ones.
    for k in ("transformer", "vae", "text_encoder", "image_encoder"):
        a, b = comps[k].state_dict(), getattr(pipe, k).state_dict()
        for kk in a:
            assert torch.equal(a[kk], b[kk]), (k, kk)

    image = make_input_image(case["height"], case["width"], case["seed"])
    image.save(os.path.join(out_dir, "input.png"))
    image = Image.open(os.path.join(out_dir, "input.png")).convert("RGB")

    rec = Recorder()
    meta = {
        "case": name,
        "height": case["height"],
        "width": case["width"],
        "max_sequence_length": MAX_SEQ,
        "components": {k: v for k, v in case.items() if k in ("transformer", "vae", "umt5", "clip")},
        "scheduler_class": type(pipe.scheduler).__name__,
        "scheduler_config": {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")},
    }
    record_components(pipe, pipe_dir, case, rec, meta, image)
    runs_meta = {}
    for rname, run in case["runs"].items():
        info = record_run(pipe, case, rname, run, rec, image)
        runs_meta[rname] = dict(
            prompt=run["prompt"],
            negative_prompt=run["negative_prompt"],
            steps=run["steps"],
            guidance=run["guidance"],
            num_frames=run["num_frames"],
            enable_temporal_reasoning=run["enable_temporal_reasoning"],
            num_temporal_reasoning_steps=run["num_temporal_reasoning_steps"],
            height=case["height"],
            width=case["width"],
            scheduler=type(pipe.scheduler).__name__,
            latents_seed=run["seed"],
            **info,
        )
    meta["runs"] = runs_meta
    save_file(rec.t, os.path.join(out_dir, "reference.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True, default=float)
        f.write("\n")
    sz = dir_size(out_dir)
    print(f"{name}: {sz / 1e6:.2f} MB ({len(rec.t)} tensors)", flush=True)
    return sz


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None, help="cases to build (default: all + schedulers)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    names = args.only if args.only else list(CASES) + ["schedulers"]
    for n in names:
        if n == "schedulers":
            make_scheduler_fixtures(os.path.join(FIXTURES, "schedulers"))
        else:
            make_case(n)


if __name__ == "__main__":
    main()
