"""Parameter counts of ChronoEdit-14B's components, as diffusers/transformers build them.

Writes tests/fixtures/memory/param_counts.json: for each component, the number of parameters (and
buffers) diffusers' / transformers' own classes create for the ChronoEdit-14B configuration (built on
the meta device: no weights are needed), per parameter tensor (name, shape). The memory plan's
weight arithmetic (src/checkpoint/memory.rs) is tested against these counts.

    /work/venv-ref/bin/python tools/reference/make_memory_counts.py
"""
import json
import os

import torch
from diffusers import AutoencoderKLWan, ChronoEditTransformer3DModel
from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "memory")

# transformer/config.json of nvidia/ChronoEdit-14B-Diffusers (as in src/checkpoint/keys.rs).
TRANSFORMER = dict(
    patch_size=(1, 2, 2), num_attention_heads=40, attention_head_dim=128, in_channels=36,
    out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40,
    cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=1280,
    added_kv_proj_dim=5120, rope_max_seq_len=1024, pos_embed_seq_len=None,
)
# umT5-XXL encoder (google/umt5-xxl; Wan's text encoder).
UMT5 = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
            feed_forward_proj="gated-gelu", tie_word_embeddings=False)
# CLIP ViT-H/14 vision tower (Wan's image encoder).
CLIP = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
            image_size=224, patch_size=14, projection_dim=1024, hidden_act="gelu")


def count(model):
    params = [(n, list(p.shape)) for n, p in model.named_parameters()]
    return {
        "parameters": sum(int(torch.Size(s).numel()) for _, s in params),
        "tensors": len(params),
        "largest": max(params, key=lambda x: torch.Size(x[1]).numel()),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with torch.device("meta"):
        t = ChronoEditTransformer3DModel(**TRANSFORMER)
        te = UMT5EncoderModel(UMT5Config(**UMT5))
        ie = CLIPVisionModel(CLIPVisionConfig(**CLIP))
        vae = AutoencoderKLWan()
    block = dict(t.blocks[0].named_parameters())
    out = {
        "transformer": count(t),
        "transformer_block": {
            "parameters": sum(p.numel() for p in block.values()),
            "tensors": {n: list(p.shape) for n, p in block.items()},
        },
        "text_encoder": count(te),
        "image_encoder": count(ie),
        "vae": count(vae),
        "sources": "diffusers ChronoEditTransformer3DModel / AutoencoderKLWan(), transformers "
        "UMT5EncoderModel / CLIPVisionModel, built on the meta device with the configs in "
        "tools/reference/make_memory_counts.py",
    }
    with open(os.path.join(OUT, "param_counts.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: v.get("parameters") for k, v in out.items() if isinstance(v, dict)}))


if __name__ == "__main__":
    main()
