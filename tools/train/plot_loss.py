#!/usr/bin/env python
"""Plot training loss logs (CSV with `step` and loss columns) to a PNG with PIL (matplotlib is not installed).

    python tools/train/plot_loss.py OUT.png LOG.csv:COLUMN:LABEL [LOG.csv:COLUMN:LABEL ...]

Each curve is drawn raw (light) and smoothed (EMA 0.98, dark), on a log10 y axis; x = step.
"""

import csv
import math
import sys

from PIL import Image, ImageDraw

COLOURS = [((230, 160, 160), (200, 30, 30)), ((160, 160, 230), (30, 30, 200)), ((160, 220, 160), (20, 140, 20))]


def read(path, col):
    xs, ys = [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            v = row.get(col, "")
            if v:
                xs.append(float(row["step"]))
                ys.append(float(v))
    return xs, ys


def main():
    out = sys.argv[1]
    curves = []
    for spec in sys.argv[2:]:
        path, col, label = spec.split(":")
        curves.append((label, *read(path, col)))
    W, H, L, R, T, B = 900, 500, 70, 20, 30, 50
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    xmax = max(max(xs) for _, xs, _ in curves if xs)
    ally = [y for _, _, ys in curves for y in ys if y > 0]
    lo, hi = math.floor(math.log10(min(ally))), math.ceil(math.log10(max(ally)))
    if hi == lo:
        hi = lo + 1

    def px(x, y):
        fx = L + (W - L - R) * x / xmax
        fy = T + (H - T - B) * (hi - math.log10(max(y, 10.0**lo))) / (hi - lo)
        return fx, fy

    for e in range(lo, hi + 1):
        for m in (1, 2, 5):
            v = m * 10.0**e
            if 10.0**lo <= v <= 10.0**hi:
                _, y = px(0, v)
                d.line([(L, y), (W - R, y)], fill=(225, 225, 225))
                d.text((5, y - 6), f"{v:g}", fill="black")
    for k in range(6):
        x = xmax * k / 5
        fx, _ = px(x, 10.0**lo)
        d.text((fx - 10, H - B + 8), f"{int(x)}", fill="black")
    d.text((W // 2 - 20, H - 20), "step", fill="black")
    d.rectangle([L, T, W - R, H - B], outline="black")
    for i, (label, xs, ys) in enumerate(curves):
        light, dark = COLOURS[i % len(COLOURS)]
        pts = [px(x, y) for x, y in zip(xs, ys)]
        if len(pts) > 1:
            d.line(pts, fill=light, width=1)
        s, sm = None, []
        for y in ys:
            s = y if s is None else 0.98 * s + 0.02 * y
            sm.append(s)
        pts = [px(x, y) for x, y in zip(xs, sm)]
        if len(pts) > 1:
            d.line(pts, fill=dark, width=2)
        d.text((L + 10, T + 5 + 14 * i), f"{label} (last smoothed {sm[-1]:.4f})" if sm else label, fill=dark)
    img.save(out)


if __name__ == "__main__":
    main()
