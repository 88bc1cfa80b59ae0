#!/usr/bin/env python3
"""Independent numpy reference of MATLAB's imresize(A, scale, 'bicubic') on uint8 images.

Written from the algorithm's description (see Sources/SRImage/BicubicResize.swift): Keys cubic
(a = -0.5), kernel stretched by 1/scale when shrinking, u = x/scale + 0.5*(1 - 1/scale),
ceil(width)+2 taps from floor(u - width/2), weights normalised per output, symmetric index
mirroring, the axis with the smaller scale first (rows on ties), uint8 rounding after each pass.

Used by the Swift tests (Tests/SRImageTests/BicubicTests.swift) as an oracle:
    matlab_imresize.py IN.ppm OUT.ppm --scale S
    matlab_imresize.py IN.ppm OUT.ppm --size WIDTH HEIGHT
    matlab_imresize.py --batch JOBS.txt     (one "IN OUT --scale S" / "IN OUT --size W H" per line)
Images are binary PPM (P6, maxval 255); numpy only.
"""
import argparse
import math
import sys

import numpy as np


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    tokens = []
    pos = 0
    while len(tokens) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            while data[pos:pos + 1] not in (b"\n", b""):
                pos += 1
            continue
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    pos += 1  # the single whitespace byte after maxval
    if tokens[0] != b"P6" or int(tokens[3]) != 255:
        raise ValueError(f"{path}: not an 8-bit P6 PPM")
    w, h = int(tokens[1]), int(tokens[2])
    arr = np.frombuffer(data, dtype=np.uint8, count=w * h * 3, offset=pos)
    return arr.reshape(h, w, 3).copy()


def write_ppm(path, img):
    h, w, _ = img.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(img, dtype=np.uint8).tobytes())


def keys_cubic(x):
    """Keys' cubic convolution kernel, a = -0.5, evaluated elementwise."""
    t = np.abs(x)
    t2 = t * t
    t3 = t2 * t
    inner = 1.5 * t3 - 2.5 * t2 + 1.0
    outer = -0.5 * t3 + 2.5 * t2 - 4.0 * t + 2.0
    return np.where(t <= 1.0, inner, np.where(t <= 2.0, outer, 0.0))


def axis_weights(n_in, n_out, scale):
    """Returns (weights, indices) of shape (n_out, taps); indices are 0-based, mirrored."""
    shrink = scale < 1.0
    width = 4.0 / scale if shrink else 4.0
    pos = np.arange(1, n_out + 1, dtype=np.float64)
    centre = pos / scale + 0.5 * (1.0 - 1.0 / scale)
    first = np.floor(centre - width / 2.0).astype(np.int64)
    ntaps = int(math.ceil(width)) + 2
    idx1 = first[:, None] + np.arange(ntaps, dtype=np.int64)[None, :]   # 1-based
    dist = centre[:, None] - idx1.astype(np.float64)
    if shrink:
        wts = scale * keys_cubic(scale * dist)
    else:
        wts = keys_cubic(dist)
    wts = wts / wts.sum(axis=1, keepdims=True)
    # symmetric reflection of 0-based positions with period 2*n_in
    z = np.mod(idx1 - 1, 2 * n_in)
    z = np.where(z < n_in, z, 2 * n_in - 1 - z)
    used = np.any(wts != 0.0, axis=0)
    return wts[:, used], z[:, used]


def to_uint8(v):
    # round half up (values are non-negative after the clip) and saturate
    return np.floor(np.clip(v, 0.0, 255.0) + 0.5).clip(0, 255).astype(np.uint8)


def pass_rows(img, wts, idx):
    """Resample axis 0 of an (H, W, C) uint8 image."""
    acc = np.zeros((wts.shape[0],) + img.shape[1:], dtype=np.float64)
    src = img.astype(np.float64)
    for k in range(wts.shape[1]):   # accumulate taps in order, like the MATLAB mex
        acc += wts[:, k][:, None, None] * src[idx[:, k]]
    return to_uint8(acc)


def imresize_uint8(img, out_h, out_w, scale_h, scale_w):
    wr, ir = axis_weights(img.shape[0], out_h, scale_h)
    wc, ic = axis_weights(img.shape[1], out_w, scale_w)
    if scale_w < scale_h:
        t = pass_rows(img.transpose(1, 0, 2), wc, ic).transpose(1, 0, 2)
        return pass_rows(t, wr, ir)
    t = pass_rows(img, wr, ir)
    return pass_rows(t.transpose(1, 0, 2), wc, ic).transpose(1, 0, 2)


def imresize_scale(img, scale):
    out_h = int(math.ceil(img.shape[0] * scale))
    out_w = int(math.ceil(img.shape[1] * scale))
    return imresize_uint8(img, out_h, out_w, scale, scale)


def main(argv):
    if len(argv) == 2 and argv[0] == "--batch":
        with open(argv[1]) as f:
            for line in f:
                if line.strip():
                    run_one(line.split())
        return 0
    run_one(argv)
    return 0


def run_one(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--scale", type=float)
    g.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"))
    a = ap.parse_args(argv)
    img = read_ppm(a.src)
    if a.scale is not None:
        out = imresize_scale(img, a.scale)
    else:
        w, h = a.size
        out = imresize_uint8(img, h, w, h / img.shape[0], w / img.shape[1])
    write_ppm(a.dst, out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
