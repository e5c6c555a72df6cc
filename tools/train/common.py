"""Shared pieces of the world-model training scripts: shard loading, model configs, tokenizer.

Everything runs on CPU with the reference venv (torch + diffusers + transformers + tokenizers).
"""

import functools
import json
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from safetensors.numpy import load_file

# ---------------------------------------------------------------------------------------------------------
# Configuration of the bundled world model (see docs/TRAINING.md for why these sizes).
# ---------------------------------------------------------------------------------------------------------

SIZE = 64  # picture side, as the committed test split
MAX_SEQ = 512  # prompt embeddings are zero-padded to this length by the pipeline

VAE_CFG = dict(
    base_dim=8,
    z_dim=16,
    dim_mult=[1, 2, 4],
    num_res_blocks=1,
    attn_scales=[],
    temperal_downsample=[True, True],
    dropout=0.0,
    scale_factor_spatial=4,  # two down-sampling levels: 64 px -> 16x16 latents
    scale_factor_temporal=4,
)

UMT5_CFG = dict(d_model=32, d_kv=16, num_heads=2, d_ff=64, num_layers=2, buckets=32, max_distance=64)

CLIP_CFG = dict(hidden_size=32, num_heads=2, num_layers=1, intermediate=64, image_size=32, patch_size=8, proj=16)

TRANSFORMER_CFG = dict(num_attention_heads=4, attention_head_dim=32, num_layers=6, ffn_dim=384, freq_dim=64,
                       patch_size=[1, 2, 2])

FLOW_SHIFT = 3.0  # used both for training sigmas and the saved UniPC scheduler


# ---------------------------------------------------------------------------------------------------------
# Shards written by `physedit world generate --format shards`
# ---------------------------------------------------------------------------------------------------------


class Shards:
    """All cases of one or more shard folders (comma-separated) in memory (uint8, NHWC)."""

    def __init__(self, folders, limit=None):
        names = []
        for folder in folders.split(","):
            names += sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".safetensors"))
        src, tgt, frames, cat, traj, mask, meta = [], [], [], [], [], [], []
        for n in names:
            t = load_file(n)
            src.append(t["source"])
            tgt.append(t["target"])
            frames.append(t["frames"])
            cat.append(t["category"])
            traj.append(t["trajectory"])
            mask.append(t["mask"])
            with open(n.replace(".safetensors", ".jsonl")) as f:
                meta += [json.loads(line) for line in f if line.strip()]
            if limit and sum(len(s) for s in src) >= limit:
                break
        self.source = np.concatenate(src)
        self.target = np.concatenate(tgt)
        self.frames = np.concatenate(frames)  # [N, F, S, S, 3], frame 0 = source, F-1 = target
        self.category = np.concatenate(cat)
        self.trajectory = np.concatenate(traj)
        self.mask = np.concatenate(mask)  # [N, S, S], 1 where the true edit changes the picture
        self.meta = meta
        if limit:
            n = min(limit, len(self.source))
            for k in ("source", "target", "frames", "category", "trajectory", "mask"):
                setattr(self, k, getattr(self, k)[:n])
            self.meta = self.meta[:n]
        assert len(self.meta) == len(self.source)
        self.prompts = [m["prompt"] for m in self.meta]

    def __len__(self):
        return len(self.source)


def to_video(frames_u8):
    """[B, F, H, W, 3] uint8 -> [B, 3, F, H, W] float in [-1, 1] (the pipeline's VideoProcessor range)."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).float() / 127.5 - 1.0
    return x.permute(0, 4, 1, 2, 3).contiguous()


def latent_edit_mask(mask_u8, latent_size):
    """Edit masks [N, S, S] (uint8) on the latent grid [N, latent_size, latent_size], float 0/1: a latent cell
    counts when any of its pixels is in the edit."""
    m = torch.from_numpy(np.ascontiguousarray(mask_u8)).float().unsqueeze(1)
    return torch.nn.functional.max_pool2d(m, mask_u8.shape[-1] // latent_size).squeeze(1).clamp(max=1.0)


def edit_video(shards, idx):
    """Two-latent-frame training video: source, then the target four times (5 frames)."""
    s = shards.source[idx][:, None]
    t = shards.target[idx][:, None]
    return to_video(np.concatenate([s, t, t, t, t], axis=1))


def prompt_clean(text):
    """The pipeline's prompt cleaning (diffusers' ChronoEdit `prompt_clean`). diffusers uses ftfy when it is
    installed and fails without it; ftfy.fix_text leaves the world's plain ASCII prompts unchanged, so a
    stand-in is used where ftfy is missing."""
    import diffusers.pipelines.chronoedit.pipeline_chronoedit as chronoedit

    if not hasattr(chronoedit, "ftfy"):
        chronoedit.ftfy = type("ftfy", (), {"fix_text": staticmethod(_fix_ascii)})
    return chronoedit.prompt_clean(text)


def _fix_ascii(text):
    if not text.isascii():
        raise ValueError(f"install ftfy to clean non-ASCII prompts like {text!r}")
    return text


# ---------------------------------------------------------------------------------------------------------
# Tokenizer: umT5-style Unigram model trained on the world's training instructions.
# ---------------------------------------------------------------------------------------------------------


def train_tokenizer(prompts, vocab_size=512):
    """NFKC + space collapsing, Metaspace pre-tokenisation, `</s>` appended; ids <pad>=0 </s>=1 <unk>=2.

    Every printable ASCII character is added to the corpus so unseen words still split into pieces."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
    from tokenizers.models import Unigram

    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        max_piece_length=12,
        n_sub_iterations=2,
        initial_alphabet=[chr(c) for c in range(33, 127)],
    )
    corpus = list(prompts) + [" ".join(chr(c) for c in range(33, 127))]
    tok.train_from_iterator(corpus, trainer=trainer)
    assert tok.token_to_id("<pad>") == 0 and tok.token_to_id("</s>") == 1 and tok.token_to_id("<unk>") == 2
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)]
    )
    return tok


def wrap_tokenizer(tok):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=MAX_SEQ,
        padding_side="right",
        truncation_side="right",
    )


# ---------------------------------------------------------------------------------------------------------
# Model construction
# ---------------------------------------------------------------------------------------------------------


def make_vae(latents_mean=None, latents_std=None):
    from diffusers import AutoencoderKLWan

    z = VAE_CFG["z_dim"]
    return AutoencoderKLWan(
        **VAE_CFG,
        latents_mean=latents_mean if latents_mean is not None else [0.0] * z,
        latents_std=latents_std if latents_std is not None else [1.0] * z,
    )


def make_framewise(vae):
    """Initialise the VAE so that it treats a video frame by frame.

    Every causal 3D convolution with a temporal kernel of 3 gets zero weights on its two past-frame taps;
    the temporal down-sampling convolutions of the encoder keep the newest frame of each window (identity
    on the last tap) and the temporal up-sampling convolutions of the decoder repeat the frame (identity on
    the last tap, for both output slots). Training on single frames never moves the zeroed taps (their
    input is the causal zero padding, so their gradient is exactly zero), so after training:
      encode([a, b, b, b, b]) == [encode(a), encode(b)] and decode([za, zb]) == [decode(za), decode(zb) x4],
    which lets stage 1 train on single pictures and stage 2 encode single pictures."""
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d, WanResample

    with torch.no_grad():
        time_convs = set()
        for m in vae.modules():
            if isinstance(m, WanResample) and hasattr(m, "time_conv"):
                tc = m.time_conv
                time_convs.add(id(tc))
                tc.weight.zero_()
                tc.bias.zero_()
                cin = tc.weight.shape[1]
                eye = torch.eye(cin)
                for slot in range(tc.weight.shape[0] // cin):
                    tc.weight[slot * cin : (slot + 1) * cin, :, -1, 0, 0] = eye
        for m in vae.modules():
            if isinstance(m, WanCausalConv3d) and id(m) not in time_convs and m.weight.shape[2] > 1:
                m.weight[:, :, :-1] = 0
    return vae


def make_text_encoder(vocab_size):
    from transformers import UMT5Config, UMT5EncoderModel

    u = UMT5_CFG
    cfg = UMT5Config(
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
    return UMT5EncoderModel(cfg)


def make_image_encoder():
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    c = CLIP_CFG
    cfg = CLIPVisionConfig(
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
    proc = CLIPImageProcessor(**clip_processor_args())
    return CLIPVisionModel(cfg), proc


def clip_processor_args():
    s = CLIP_CFG["image_size"]
    return dict(
        do_resize=True,
        size={"shortest_edge": s},
        resample=3,
        do_center_crop=True,
        crop_size={"height": s, "width": s},
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.48145466, 0.4578275, 0.40821073],
        image_std=[0.26862954, 0.26130258, 0.27577711],
        do_convert_rgb=True,
    )


@functools.cache
def _pil_processor():
    try:
        from transformers import CLIPImageProcessorPil as Processor
    except ImportError:  # transformers before the backend split: CLIPImageProcessor is the PIL one
        from transformers import CLIPImageProcessor as Processor
    print("CLIP pixels by", Processor.__name__, flush=True)
    return Processor(**clip_processor_args())


def clip_pixels(images):
    """CLIP pixel values of PIL images with transformers' PIL backend, the one the engine reproduces
    (recent transformers pick a torchvision backend for CLIPImageProcessor where torchvision is installed)."""
    return _pil_processor()(images=images, return_tensors="pt").pixel_values


def make_transformer(overrides=None):
    """The bundled transformer; `overrides` replaces TRANSFORMER_CFG entries (a size variant; training
    checkpoints record theirs so export builds the same)."""
    from diffusers import ChronoEditTransformer3DModel

    unknown = set(overrides or {}) - set(TRANSFORMER_CFG)
    if unknown:
        raise SystemExit(f"unknown transformer settings {sorted(unknown)}; known: {sorted(TRANSFORMER_CFG)}")
    t = {**TRANSFORMER_CFG, **(overrides or {})}
    z = VAE_CFG["z_dim"]
    inner = t["num_attention_heads"] * t["attention_head_dim"]
    return ChronoEditTransformer3DModel(
        patch_size=tuple(t["patch_size"]),
        num_attention_heads=t["num_attention_heads"],
        attention_head_dim=t["attention_head_dim"],
        in_channels=2 * z + 4,
        out_channels=z,
        text_dim=UMT5_CFG["d_model"],
        freq_dim=t["freq_dim"],
        ffn_dim=t["ffn_dim"],
        num_layers=t["num_layers"],
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
        image_dim=CLIP_CFG["hidden_size"],
        added_kv_proj_dim=inner,
        rope_max_seq_len=1024,
        pos_embed_seq_len=None,
        rope_temporal_skip_len=8,
    )


def make_scheduler():
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=FLOW_SHIFT,
        num_train_timesteps=1000,
        solver_order=2,
        predict_x0=True,
        solver_type="bh2",
        lower_order_final=True,
        final_sigmas_type="zero",
    )
