#!/usr/bin/env python
"""Write tiny_a's transformer the ways users hold the 14B's, and what diffusers computes from each.

Run with the reference venv (see README.md; needs the `gguf` package too):

    python tools/reference/make_single_file_fixtures.py

Reads the committed tests/fixtures/tiny_a/ (pipeline folder, input.png, meta.json, the `plain` run's initial
latents) and writes tests/fixtures/single_file/:

  wan_comfy.safetensors   the transformer with the original Wan key names under ComfyUI's
                          `model.diffusion_model.` prefix, f32. Checked: diffusers' own
                          `convert_wan_transformer_to_diffusers` turns it back into exactly the folder's
                          state dict (same names, bit-identical tensors).
  q8_0.gguf               city96's layout (ComfyUI-GGUF tools/convert.py, a Q8_0 llama-quantize, then
                          fix_5d_tensors.py): original names without prefix, `general.architecture = wan`,
                          block Linear weights Q8_0 where their rows are a multiple of the 32-value block
                          (tiny_a: `cross_attn.{k,v}` and `ffn.2`, whose rows are 32 long); otherwise F32
                          for 1-D tensors, tensors of at most 1024 elements and `*.modulation`, F16 for
                          the other 2-D tensors; the 5-D patch embedding a real 5-D F32 tensor
                          placed after `patch_embedding.bias`.
  q4_0.gguf               as q8_0.gguf, block Linear weights Q4_0 (gguf-py's quantizer).
  q8_0_orig_shape.gguf    the same tensors, except the patch embedding stored 2-D with
                          `comfy.gguf.orig_shape.patch_embedding.weight` giving its 5-D shape.
  fp8_scaled.safetensors  ComfyUI's "scaled fp8" form: block Linear weights float8_e4m3fn with a 0-d f32
                          `<layer>.scale_weight` (absmax / 448) beside each, the empty `scaled_fp8` marker,
                          everything under `model.diffusion_model.`; the rest f32.
  reference.safetensors   `gguf_q8_0.frames` and `fp8_scaled.frames`: the frames of tiny_a's `plain` run
                          after loading the transformer with the file's *dequantized* weights (gguf-py's
                          dequantize; f32(fp8) * scale). The full-precision frames are tiny_a's own
                          `run.plain.frames`.
  meta.json               tensor types, distances between the frame sets, versions.

Everything is f32 on CPU and seeded; re-running reproduces the same files with the same library versions.
"""

import importlib.metadata
import json
import os
import shutil

os.environ["TOKENIZERS_PARALLELISM"] = "false"

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TINY = os.path.join(REPO, "tests", "fixtures", "tiny_a")
OUT = os.path.join(REPO, "tests", "fixtures", "single_file")

RUN = "plain"
MAX_SEQ = 512
COMFY_PREFIX = "model.diffusion_model."

# diffusers name -> original Wan name, module by module (the inverse of diffusers' converter).
TOP_LEVEL = [
    ("patch_embedding", "patch_embedding"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("condition_embedder.image_embedder.norm1", "img_emb.proj.0"),
    ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
    ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
    ("condition_embedder.image_embedder.norm2", "img_emb.proj.4"),
    ("proj_out", "head.head"),
    ("scale_shift_table", "head.modulation"),
]
PER_BLOCK = [
    ("attn1.to_q", "self_attn.q"),
    ("attn1.to_k", "self_attn.k"),
    ("attn1.to_v", "self_attn.v"),
    ("attn1.to_out.0", "self_attn.o"),
    ("attn1.norm_q", "self_attn.norm_q"),
    ("attn1.norm_k", "self_attn.norm_k"),
    ("attn2.to_q", "cross_attn.q"),
    ("attn2.to_k", "cross_attn.k"),
    ("attn2.to_v", "cross_attn.v"),
    ("attn2.to_out.0", "cross_attn.o"),
    ("attn2.add_k_proj", "cross_attn.k_img"),
    ("attn2.add_v_proj", "cross_attn.v_img"),
    ("attn2.norm_q", "cross_attn.norm_q"),
    ("attn2.norm_k", "cross_attn.norm_k"),
    ("attn2.norm_added_k", "cross_attn.norm_k_img"),
    ("norm2", "norm3"),  # the affine norm before cross-attention
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("scale_shift_table", "modulation"),
]
# Block Linear layers (original names): what llama-quantize quantizes and what fp8 files store as fp8.
BLOCK_LINEARS = {
    "self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o",
    "cross_attn.q", "cross_attn.k", "cross_attn.v", "cross_attn.o",
    "cross_attn.k_img", "cross_attn.v_img", "ffn.0", "ffn.2",
}


def to_wan(name):
    if name.startswith("blocks."):
        _, n, rest = name.split(".", 2)
        for ours, theirs in PER_BLOCK:
            if rest == ours or rest.startswith(ours + "."):
                return f"blocks.{n}.{theirs}{rest[len(ours):]}"
        raise KeyError(name)
    for ours, theirs in TOP_LEVEL:
        if name == ours or name.startswith(ours + "."):
            return theirs + name[len(ours):]
    raise KeyError(name)


def block_linear(wan_name):
    """`blocks.N.<layer>.weight` of a Linear layer -> `<layer>`, else None."""
    if not (wan_name.startswith("blocks.") and wan_name.endswith(".weight")):
        return None
    layer = wan_name.split(".", 2)[2][: -len(".weight")]
    return layer if layer in BLOCK_LINEARS else None


def load_pipe():
    from diffusers import ChronoEditPipeline

    pipe = ChronoEditPipeline.from_pretrained(os.path.join(TINY, "pipeline"), torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_plain(pipe, meta, ref):
    run = meta["runs"][RUN]
    image = Image.open(os.path.join(TINY, "input.png")).convert("RGB")
    out = pipe(
        image=image,
        prompt=run["prompt"],
        negative_prompt=run["negative_prompt"],
        height=run["height"],
        width=run["width"],
        num_frames=run["num_frames"],
        num_inference_steps=run["steps"],
        guidance_scale=run["guidance"],
        latents=ref[f"run.{RUN}.latents"].clone(),
        output_type="np",
        max_sequence_length=MAX_SEQ,
        enable_temporal_reasoning=run["enable_temporal_reasoning"],
        num_temporal_reasoning_steps=run["num_temporal_reasoning_steps"],
    ).frames
    return torch.from_numpy(np.asarray(out[0])).permute(0, 3, 1, 2).contiguous()  # (F, 3, H, W)


def frames_with(sd_diffusers, meta, ref):
    pipe = load_pipe()
    missing, unexpected = pipe.transformer.load_state_dict(sd_diffusers, strict=True)
    assert not missing and not unexpected
    return run_plain(pipe, meta, ref)


def write_comfy(base_sd):
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    wan = {COMFY_PREFIX + to_wan(k): v.contiguous() for k, v in base_sd.items()}
    path = os.path.join(OUT, "wan_comfy.safetensors")
    save_file(wan, path, metadata={"format": "pt"})
    back = convert_wan_transformer_to_diffusers(load_file(path))
    assert set(back) == set(base_sd), sorted(set(back) ^ set(base_sd))
    for k, v in base_sd.items():
        assert torch.equal(back[k], v), k
    return sorted(wan)


def gguf_type(wan_name, data, target):
    """city96's choice for an f32 source, then a llama-quantize to `target` (Q8_0 or Q4_0, 32-value
    blocks) of the block Linear weights."""
    import gguf

    T = gguf.GGMLQuantizationType
    # llama-quantize quantizes every block Linear weight whose rows fill whole blocks (the 14B's all do),
    # also the tiny ones that convert.py left in F32.
    if block_linear(wan_name) and data.shape[-1] % 32 == 0:
        return target
    if data.ndim == 1 or data.size <= 1024 or ".modulation" in wan_name or wan_name == "head.modulation":
        return T.F32
    return T.F16


def write_gguf(base_sd, path, orig_shape, target="Q8_0"):
    import gguf

    writer = gguf.GGUFWriter(path=None, arch="wan")
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_file_type(getattr(gguf.LlamaFileType, "MOSTLY_" + target))
    target = getattr(gguf.GGMLQuantizationType, target)
    types = {}
    deq = {}
    wan = {to_wan(k): v.numpy().astype(np.float32) for k, v in base_sd.items()}
    patch = wan.pop("patch_embedding.weight")
    if orig_shape:
        writer.add_array("comfy.gguf.orig_shape.patch_embedding.weight", [int(d) for d in patch.shape])
    for name, data in wan.items():
        t = gguf_type(name, data, target)
        q = gguf.quants.quantize(data, t)
        writer.add_tensor(name, q, raw_dtype=t)
        types[name] = t.name
        deq[name] = gguf.quants.dequantize(q, t).reshape(data.shape)
        if name == "patch_embedding.bias":
            stored = patch.reshape(patch.shape[0], -1) if orig_shape else patch
            writer.add_tensor("patch_embedding.weight", stored, raw_dtype=gguf.GGMLQuantizationType.F32)
            types["patch_embedding.weight"] = f"F32 {list(stored.shape)}"
            deq["patch_embedding.weight"] = patch
    writer.write_header_to_file(path=path)
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    # Read back with gguf-py's reader: what ComfyUI-GGUF sees.
    reader = gguf.GGUFReader(path)
    assert len(reader.tensors) == len(base_sd)
    for t in reader.tensors:
        back = gguf.quants.dequantize(t.data, t.tensor_type)
        want = deq[t.name]
        assert back.size == want.size and np.array_equal(back.reshape(-1), want.reshape(-1)), t.name
    return types, deq


def from_wan(deq):
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    return convert_wan_transformer_to_diffusers({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in deq.items()})


def write_fp8(base_sd):
    out = {}
    deq = {}
    for k, v in base_sd.items():
        name = to_wan(k)
        layer = block_linear(name)
        if layer is None:
            out[COMFY_PREFIX + name] = v.contiguous()
            deq[name] = v
            continue
        scale = (v.abs().max() / 448.0).to(torch.float32)
        q = (v / scale).to(torch.float8_e4m3fn)
        out[COMFY_PREFIX + name] = q
        out[COMFY_PREFIX + name[: -len(".weight")] + ".scale_weight"] = scale.reshape(())
        deq[name] = q.to(torch.float32) * scale
    out[COMFY_PREFIX + "scaled_fp8"] = torch.empty(0, dtype=torch.float8_e4m3fn)
    save_file(out, os.path.join(OUT, "fp8_scaled.safetensors"), metadata={"format": "pt"})
    return {k: v.numpy() for k, v in deq.items()}


def main():
    import diffusers
    import gguf

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    with open(os.path.join(TINY, "meta.json")) as f:
        meta = json.load(f)
    ref = load_file(os.path.join(TINY, "reference.safetensors"))

    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    pipe = load_pipe()
    full = run_plain(pipe, meta, ref)
    d_base = (full - ref[f"run.{RUN}.frames"]).abs().max().item()
    assert d_base < 1e-5, d_base
    base_sd = {k: v.clone() for k, v in pipe.transformer.state_dict().items()}

    comfy_keys = write_comfy(base_sd)
    types, deq = write_gguf(base_sd, os.path.join(OUT, "q8_0.gguf"), orig_shape=False)
    types2, _ = write_gguf(base_sd, os.path.join(OUT, "q8_0_orig_shape.gguf"), orig_shape=True)
    # Q4_0: checks `physedit quantize --type q4_0` byte for byte (no frames recorded for it).
    types3, _ = write_gguf(base_sd, os.path.join(OUT, "q4_0.gguf"), orig_shape=False, target="Q4_0")
    q8_frames = frames_with(from_wan(deq), meta, ref)
    fp8_frames = frames_with(from_wan(write_fp8(base_sd)), meta, ref)

    # The full-precision frames are tiny_a's committed `run.plain.frames` (checked equal above).
    rec = {"gguf_q8_0.frames": q8_frames, "fp8_scaled.frames": fp8_frames}
    save_file(rec, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})
    dist = {
        "gguf_q8_0_vs_full": (q8_frames - full).abs().max().item(),
        "fp8_scaled_vs_full": (fp8_frames - full).abs().max().item(),
    }
    print(dist, flush=True)
    assert all(d > 1e-5 for d in dist.values()), dist
    out_meta = dict(
        pipeline="tiny_a",
        run=RUN,
        comfy_keys=comfy_keys,
        gguf_types=types,
        gguf_orig_shape_types=types2,
        gguf_q4_0_types=types3,
        max_abs_frame_distance=dist,
        versions=dict(torch=torch.__version__, diffusers=diffusers.__version__, gguf=importlib.metadata.version("gguf")),
    )
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(out_meta, f, indent=1, sort_keys=True)
        f.write("\n")
    for fn in sorted(os.listdir(OUT)):
        print(f"  {fn}: {os.path.getsize(os.path.join(OUT, fn)) / 1e3:.1f} kB")


if __name__ == "__main__":
    main()
