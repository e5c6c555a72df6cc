"""Writes the tiny CLIP parity fixture used by tests/it/clip_score.rs.

Run with the reference environment (torch, transformers 5.x, tokenizers, safetensors, Pillow):

    python tools/reference/make_clip_fixture.py tests/fixtures/clip

Output folder:
  model/            CLIPModel.save_pretrained + CLIPProcessor (CLIPTokenizer + PIL CLIPImageProcessor)
                    config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
                    preprocessor_config.json (config.json has eos_token_id = the tokenizer's <|endoftext|>)
  (model_legacy)    not written: the same weights with text_config.eos_token_id = 2, which selects transformers' legacy
                    pooling rule (argmax of input_ids)
  images/img_<i>.png  test images (some exactly the crop size, some needing a resize, one with alpha)
  meta.json         prompts, images, sizes, which images need a resize
  reference.safetensors (f32 unless noted):
    text.<i>.input_ids (I64)      tokenizer output for prompts[i] (truncation to max_position_embeddings)
    text.<i>.embeds (1,P)         CLIPModel.get_text_features (first-EOS pooling)
    text_legacy.<i>.embeds (1,P)  the same with the legacy argmax pooling (model/ with eos_token_id 2,
                                  which tests/it/clip_score.rs derives in a temporary folder)
    image.<j>.pixel_values        CLIPImageProcessorPil output for images[j]
    image.<j>.embeds (1,P)        CLIPModel.get_image_features
    image.<j>.{pixel_values,embeds}_torch_resize  for images needing a resize: the same through a torch
                                  bicubic antialiased resize instead of Pillow's (resampler sensitivity)
    clip_t.<i>.<j>                cosine(image j, text i) (scalar, f64 computed in torch f32)
    clip_i.<j>.<k>                cosine(image j, image k)
"""

import json
import os
import tempfile
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Regex, normalizers, pre_tokenizers
from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

TRAIN_TEXT = """
Make the red ball roll off the table and fall onto the floor. Push the wooden block so that it slides
to the left. Let the glass of water tip over and spill across the desk. Drop the apple from the top
of the shelf. The cat jumps onto the sofa and knocks the lamp over. Turn on the light in the kitchen.
Remove the person standing next to the car. Change the colour of the sky to a warm sunset orange.
Add a small dog sitting on the grass beside the bench. Replace the blue cup with a green bottle.
Make it rain over the city street at night. Melt the ice cube on the plate. Stack three boxes on
top of each other. The ball bounces twice before it stops. A photo of a cat, a photo of a dog.
Move the chair closer to the window, rotate the vase by ninety degrees, open the door halfway.
"""

PROMPTS = [
    "make the red ball roll off the table",
    "A photo of a cat",
    "Push the BLOCK to the left!!  and then   drop it",
    # an unseen word (byte-level fallback) and digits
    "zebra xylophone 42 quickly",
    # the end token written out: the first-EOS rule pools at this position, not at the final one
    "a <|endoftext|> dog",
    "",
    # longer than max_position_embeddings: truncated with the end token kept
    " ".join(["the ball bounces twice before it stops"] * 6),
]


def learn_merges(words, n_merges):
    """Plain BPE learning with deterministic tie-breaking (count, then the pair itself), so that the
    fixture is reproducible (the `tokenizers` trainer breaks ties in hash order)."""
    from collections import Counter

    counts = Counter(words)
    seqs = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in counts}
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, c in counts.items():
            sq = seqs[w]
            for a, b in zip(sq, sq[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for w in counts:
            sq, out, i = seqs[w], [], 0
            while i < len(sq):
                if i + 1 < len(sq) and (sq[i], sq[i + 1]) == best:
                    out.append(sq[i] + sq[i + 1])
                    i += 2
                else:
                    out.append(sq[i])
                    i += 1
            seqs[w] = out
    return merges


def build_tokenizer():
    # CLIP's normalisation and pre-tokenisation (as transformers' CLIPTokenizer sets them up)
    normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    pre = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(
                Regex(
                    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
                ),
                behavior="removed",
                invert=True,
            ),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    words = [w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(TRAIN_TEXT))]
    merges = learn_merges(words, 120)
    # vocabulary as in CLIP's: the special tokens, every byte-level symbol alone and as a word end,
    # then the merge results in merge order
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    for s in alphabet + [a + "</w>" for a in alphabet] + [a + b for a, b in merges]:
        if s not in vocab:
            vocab[s] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def make_images(img_dir, crop):
    rng = np.random.RandomState(7)
    imgs = []
    # exactly crop x crop: no resize (resize to the same size is a copy in Pillow)
    a = np.zeros((crop, crop, 3), np.uint8)
    yy, xx = np.mgrid[0:crop, 0:crop]
    a[..., 0] = (xx * 255 // (crop - 1)).astype(np.uint8)
    a[..., 1] = (yy * 255 // (crop - 1)).astype(np.uint8)
    a[..., 2] = 128
    imgs.append(("img_0.png", Image.fromarray(a), False))
    imgs.append(("img_1.png", Image.fromarray(rng.randint(0, 256, (crop, crop, 3), dtype=np.uint8)), False))
    # RGBA at crop size: alpha composited on white, still no resize
    rgba = rng.randint(0, 256, (crop, crop, 4), dtype=np.uint8)
    imgs.append(("img_2.png", Image.fromarray(rgba, "RGBA"), False))
    # needing a resize (down, up, non-square with centre crop)
    imgs.append(("img_3.png", Image.fromarray(rng.randint(0, 256, (2 * crop + 6, 3 * crop, 3), dtype=np.uint8)), True))
    smooth = np.zeros((crop + 13, crop + 29, 3), np.uint8)
    yy, xx = np.mgrid[0 : crop + 13, 0 : crop + 29]
    smooth[..., 0] = (127 + 120 * np.sin(xx / 5.0)).astype(np.uint8)
    smooth[..., 1] = (127 + 120 * np.cos(yy / 7.0)).astype(np.uint8)
    smooth[..., 2] = ((xx + yy) * 3 % 256).astype(np.uint8)
    imgs.append(("img_4.png", Image.fromarray(smooth), True))
    imgs.append(("img_5.png", Image.fromarray(rng.randint(0, 256, (crop // 2 + 3, crop // 2, 3), dtype=np.uint8)), True))
    for name, im, _ in imgs:
        im.save(os.path.join(img_dir, name))
    return imgs


def torch_resize_pixel_values(im, ip):
    a = torch.from_numpy(np.asarray(im.convert("RGB"))).permute(2, 0, 1).float()[None]
    h, w = a.shape[-2:]
    s = ip.size["shortest_edge"]
    oh, ow = (int(s * h / w), s) if w <= h else (s, int(s * w / h))
    r = torch.nn.functional.interpolate(a, size=(oh, ow), mode="bicubic", align_corners=False, antialias=True)
    r = r.round().clamp(0, 255)
    ch, cw = ip.crop_size["height"], ip.crop_size["width"]
    top, left = (oh - ch) // 2, (ow - cw) // 2
    r = r[..., top : top + ch, left : left + cw] / 255.0
    mean = torch.tensor(ip.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(ip.image_std).view(1, 3, 1, 1)
    return ((r - mean) / std).float()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/clip"
    model_dir = os.path.join(out, "model")
    # The legacy-pooling copy is only needed here, to compute its reference embeddings; the tests
    # derive the same folder from model/ (config.json with eos_token_id 2).
    legacy_dir = tempfile.mkdtemp(prefix="clip_legacy_")
    img_dir = os.path.join(out, "images")
    for d in (model_dir, img_dir):
        os.makedirs(d, exist_ok=True)

    tokenizer = build_tokenizer()
    crop = 32
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": crop}, crop_size={"height": crop, "width": crop}
    )
    processor = CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)

    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=24,
            hidden_act="gelu",
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        ),
        vision_config=dict(
            hidden_size=40,
            intermediate_size=56,
            num_hidden_layers=2,
            num_attention_heads=5,
            image_size=crop,
            patch_size=8,
            hidden_act="quick_gelu",
        ),
        projection_dim=24,
    )
    model = CLIPModel(cfg).eval()
    # random init is small; widen the weights so every part of the network matters
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif p.dim() >= 2:
                p.copy_(torch.randn_like(p) / max(p.shape[-1], 1) ** 0.5 * (1.0 if "embedding" not in name else 0.5))
    model.save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    # transformers 5 folds the image processor into processor_config.json; CLIP checkpoints on the Hub carry
    # preprocessor_config.json, which is what the loader reads first
    image_processor.save_pretrained(model_dir)
    assert tokenizer.eos_token_id != 2

    legacy_cfg = CLIPConfig.from_pretrained(model_dir)
    legacy_cfg.text_config.eos_token_id = 2
    legacy = CLIPModel.from_pretrained(model_dir, config=legacy_cfg).eval()
    legacy.save_pretrained(legacy_dir)
    processor.save_pretrained(legacy_dir)
    image_processor.save_pretrained(legacy_dir)

    # round trip through the saved files, as a user would load them
    model = CLIPModel.from_pretrained(model_dir).eval()
    legacy = CLIPModel.from_pretrained(legacy_dir).eval()
    processor = CLIPProcessor.from_pretrained(model_dir)
    assert isinstance(processor.image_processor, CLIPImageProcessorPil), type(processor.image_processor)
    assert model.config.text_config.eos_token_id == tokenizer.eos_token_id
    assert legacy.config.text_config.eos_token_id == 2
    max_len = model.config.text_config.max_position_embeddings

    tensors = {}
    text_embeds = []
    with torch.no_grad():
        for i, p in enumerate(PROMPTS):
            ids = processor.tokenizer(p, truncation=True, max_length=max_len, return_tensors="pt").input_ids
            tensors[f"text.{i}.input_ids"] = ids.to(torch.int64).contiguous()
            e = model.get_text_features(input_ids=ids)
            e = e.pooler_output if hasattr(e, "pooler_output") else e
            text_embeds.append(e)
            tensors[f"text.{i}.embeds"] = e.contiguous()
            el = legacy.get_text_features(input_ids=ids)
            el = el.pooler_output if hasattr(el, "pooler_output") else el
            tensors[f"text_legacy.{i}.embeds"] = el.contiguous()

        imgs = make_images(img_dir, crop)
        image_embeds = []
        for j, (name, _, _) in enumerate(imgs):
            im = Image.open(os.path.join(img_dir, name))
            pv = processor.image_processor(im, return_tensors="pt").pixel_values
            tensors[f"image.{j}.pixel_values"] = pv.contiguous()
            e = model.get_image_features(pixel_values=pv)
            e = e.pooler_output if hasattr(e, "pooler_output") else e
            image_embeds.append(e)
            tensors[f"image.{j}.embeds"] = e.contiguous()
            if imgs[j][2]:
                # the same image through a torch bicubic antialiased resize (what transformers' default
                # torchvision backend does, emulated with torch alone: float resize, round, clamp to u8)
                # to measure how much the choice of resampler moves the embeddings
                pv_t = torch_resize_pixel_values(im, processor.image_processor)
                tensors[f"image.{j}.pixel_values_torch_resize"] = pv_t.contiguous()
                et = model.get_image_features(pixel_values=pv_t)
                et = et.pooler_output if hasattr(et, "pooler_output") else et
                tensors[f"image.{j}.embeds_torch_resize"] = et.contiguous()

        cos = torch.nn.functional.cosine_similarity
        for i, t in enumerate(text_embeds):
            for j, v in enumerate(image_embeds):
                tensors[f"clip_t.{i}.{j}"] = cos(v, t, dim=-1).reshape(()).contiguous()
        for j, v in enumerate(image_embeds):
            for k, w in enumerate(image_embeds):
                tensors[f"clip_i.{j}.{k}"] = cos(v, w, dim=-1).reshape(()).contiguous()

    save_file(tensors, os.path.join(out, "reference.safetensors"))
    meta = {
        "prompts": PROMPTS,
        "images": [n for n, _, _ in imgs],
        "image_sizes": [list(im.size) for _, im, _ in imgs],
        "needs_resize": [r for _, _, r in imgs],
        "crop_size": crop,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "max_position_embeddings": max_len,
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("wrote", out, "tokens:", [tensors[f"text.{i}.input_ids"].tolist() for i in range(len(PROMPTS))])


if __name__ == "__main__":
    main()
