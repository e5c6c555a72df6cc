"""Writes the Wan VAE key fixtures:

tests/fixtures/keys/wan_vae_to_diffusers.json
    every tensor name of diffusers' default `AutoencoderKLWan()` (the Wan 2.1 VAE) in the original Wan layout
    (Wan-AI's `Wan2.1_VAE.pth`, ComfyUI's `wan_2.1_vae.safetensors`) and the name diffusers' own single-file
    converter (`convert_wan_vae_to_diffusers`) gives it. The original names are made here by inverting the
    layout rules (`to_wan`), and checked to be exactly the names the converter turns into the model's
    state dict (so a wrong rule fails the script). PhysEdit's rule (src/checkpoint/wan_vae_keys.rs) is
    tested against the pairs.
tests/fixtures/keys/wan_vae_tiny.json
    the same inversion for tests/fixtures/tiny_a's VAE (one residual block per level, which diffusers'
    converter does not cover: it writes out the two-block grouping), used to write that VAE with original
    names in the tests.
"""
import json
import pathlib

import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers
from safetensors import safe_open

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/keys"
RES = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6",
       "conv_shortcut": "shortcut"}


def res_tail(tail):
    layer, leaf = tail.rsplit(".", 1)
    return f"{RES[layer]}.{leaf}" if layer in RES else tail


def to_wan(k, r):
    top = {"quant_conv": "conv1", "post_quant_conv": "conv2"}
    head, rest = k.split(".", 1)
    if head in top:
        return f"{top[head]}.{rest}"
    side = head
    if rest.startswith("conv_in."):
        return f"{side}.conv1.{rest[len('conv_in.'):]}"
    if rest == "norm_out.gamma":
        return f"{side}.head.0.gamma"
    if rest.startswith("conv_out."):
        return f"{side}.head.2.{rest[len('conv_out.'):]}"
    if rest.startswith("mid_block.attentions.0."):
        return f"{side}.middle.1.{rest[len('mid_block.attentions.0.'):]}"
    if rest.startswith("mid_block.resnets."):
        i, tail = rest[len("mid_block.resnets."):].split(".", 1)
        return f"{side}.middle.{2 * int(i)}.{res_tail(tail)}"
    if rest.startswith("down_blocks."):
        n, tail = rest[len("down_blocks."):].split(".", 1)
        return f"{side}.downsamples.{n}.{res_tail(tail)}"
    if rest.startswith("up_blocks."):
        level, kind, tail = rest[len("up_blocks."):].split(".", 2)
        level = int(level)
        if kind == "resnets":
            j, tail = tail.split(".", 1)
            return f"{side}.upsamples.{level * (r + 2) + int(j)}.{res_tail(tail)}"
        assert kind == "upsamplers" and tail.startswith("0."), k
        return f"{side}.upsamples.{level * (r + 2) + r + 1}.{tail[2:]}"
    raise ValueError(k)


def main():
    with torch.device("meta"):
        model = AutoencoderKLWan()
    expected = list(model.state_dict().keys())
    pairs = []
    for k in expected:
        wan = to_wan(k, 2)
        (new,) = convert_wan_vae_to_diffusers({wan: torch.zeros(1)}).keys()
        pairs.append([wan, new])
    assert [p[1] for p in pairs] == expected, [p for p in pairs if p[1] not in expected][:5]
    assert len({p[0] for p in pairs}) == len(pairs)
    (OUT / "wan_vae_to_diffusers.json").write_text(json.dumps(
        {"source": "diffusers.loaders.single_file_utils.convert_wan_vae_to_diffusers on AutoencoderKLWan()",
         "pairs": pairs}, indent=1) + "\n")
    tiny = ROOT / "tests/fixtures/tiny_a/pipeline/vae/diffusion_pytorch_model.safetensors"
    cfg = json.loads((tiny.parent / "config.json").read_text())
    with safe_open(tiny, "pt") as f:
        names = sorted(f.keys())
    mapping = {k: to_wan(k, cfg["num_res_blocks"]) for k in names}
    assert len(set(mapping.values())) == len(mapping)
    (OUT / "wan_vae_tiny.json").write_text(json.dumps(
        {"source": "to_wan in tools/reference/make_wan_vae_key_fixtures.py, num_res_blocks = "
                   f"{cfg['num_res_blocks']}", "diffusers_to_wan": mapping}, indent=1) + "\n")
    print(len(pairs), "pairs;", len(mapping), "tiny names")


if __name__ == "__main__":
    main()
