"""Writes tests/fixtures/keys/wan_to_diffusers.json: every tensor name of a two-block Wan I2V transformer in
the original (Wan-AI / ComfyUI) layout, and the name diffusers' own single-file converter
(`convert_wan_transformer_to_diffusers`) gives it. PhysEdit's key table (src/checkpoint/keys.rs) is tested
against this list in both directions. The original names are those of Wan's `WanModel` (wan/modules/model.py):
listed here by hand, and checked below to be exactly the names diffusers' converter turns into the state
dict of a diffusers `WanTransformer3DModel` of the same shape (so a typo here fails the script).
"""
import json
import pathlib

import torch
from diffusers import WanTransformer3DModel
from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests/fixtures/keys/wan_to_diffusers.json"


def original_names(num_blocks):
    names = ["patch_embedding.weight", "patch_embedding.bias"]
    for m in ["text_embedding.0", "text_embedding.2", "time_embedding.0", "time_embedding.2", "time_projection.1",
              "head.head"]:
        names += [f"{m}.weight", f"{m}.bias"]
    names.append("head.modulation")
    for m in ["img_emb.proj.0", "img_emb.proj.1", "img_emb.proj.3", "img_emb.proj.4"]:
        names += [f"{m}.weight", f"{m}.bias"]
    for n in range(num_blocks):
        b = f"blocks.{n}"
        for attn, layers in [("self_attn", ["q", "k", "v", "o"]), ("cross_attn", ["q", "k", "v", "o", "k_img", "v_img"])]:
            for layer in layers:
                names += [f"{b}.{attn}.{layer}.weight", f"{b}.{attn}.{layer}.bias"]
            norms = ["norm_q", "norm_k"] + (["norm_k_img"] if attn == "cross_attn" else [])
            names += [f"{b}.{attn}.{norm}.weight" for norm in norms]
        names += [f"{b}.norm3.weight", f"{b}.norm3.bias"]
        for m in ["ffn.0", "ffn.2"]:
            names += [f"{b}.{m}.weight", f"{b}.{m}.bias"]
        names.append(f"{b}.modulation")
    return names


def main():
    torch.manual_seed(0)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        image_dim=24, added_kv_proj_dim=24,
    )
    expected = set(model.state_dict().keys())
    original = original_names(2)
    converted = convert_wan_transformer_to_diffusers({f"model.diffusion_model.{k}": torch.zeros(1) for k in original})
    pairs = []
    for k in original:
        # The converter renames key by key in the dict's order; recover each name's image.
        (new,) = convert_wan_transformer_to_diffusers({k: torch.zeros(1)}).keys()
        pairs.append([k, new])
    got = set(converted.keys())
    assert got == expected, f"converter output differs from the model's names: {sorted(got ^ expected)}"
    assert {p[1] for p in pairs} == expected
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"source": "diffusers.loaders.single_file_utils.convert_wan_transformer_to_diffusers",
                               "pairs": pairs}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(pairs)} names)")


if __name__ == "__main__":
    main()
