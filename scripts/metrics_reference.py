#!/usr/bin/env python3
"""Independent reference for the SR metrics of Sources/SRImage/Metrics.swift.

    metrics_reference.py SR.ppm HR.ppm SHAVE [SR.ppm HR.ppm SHAVE ...]
prints one line "<psnr> <ssim>" per triple (repr precision; "inf" for identical images).

Convention: Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 in float64 (not rounded); SHAVE
pixels removed from every border; PSNR = 10 log10(255^2 / MSE) ("inf" when MSE == 0);
SSIM with an 11x11 Gaussian window (sigma 1.5, sum 1), C1 = (0.01*255)^2, C2 = (0.03*255)^2,
statistics by 'valid' 2-D convolution (scipy.signal.convolve2d with the full 2-D window, unlike
the separable filter of the Swift code), mean of the SSIM map.
"""
import math
import sys

import numpy as np
from scipy.signal import convolve2d

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
from matlab_imresize import read_ppm  # noqa: E402


def luma(img):
    rgb = img.astype(np.float64)
    return 16.0 + (rgb[..., 0] * 65.481 + rgb[..., 1] * 128.553 + rgb[..., 2] * 24.966) / 255.0


def shave(plane, s):
    if s == 0:
        return plane
    return plane[s:-s, s:-s]


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(255.0 ** 2 / mse)


def gauss2d(size=11, sigma=1.5):
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    yy, xx = np.meshgrid(r, r, indexing="ij")
    k = np.exp(-(xx ** 2 + yy ** 2) / (2.0 * sigma ** 2))
    return k / k.sum()


def ssim(a, b):
    c1 = (0.01 * 255.0) ** 2
    c2 = (0.03 * 255.0) ** 2
    win = gauss2d()

    def blur(p):
        return convolve2d(p, win, mode="valid")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def main(argv):
    if not argv or len(argv) % 3 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    for i in range(0, len(argv), 3):
        sr, hr, s = read_ppm(argv[i]), read_ppm(argv[i + 1]), int(argv[i + 2])
        if sr.shape != hr.shape:
            print(f"size mismatch {sr.shape} vs {hr.shape}", file=sys.stderr)
            return 1
        ya, yb = shave(luma(sr), s), shave(luma(hr), s)
        print("%r %r" % (psnr(ya, yb), ssim(ya, yb)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
