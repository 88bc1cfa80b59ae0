#!/usr/bin/env python3
"""ONNX Runtime as the reference a user would otherwise pick.

  ort_reference.py run MODEL IN.png OUT.f32 [--bgr] [--range 255]
      writes the model's raw float32 output (C order, [1,3,H,W]) for the PNG, fed in the
      given convention; used by tests that compare our engine with ORT value by value.
  ort_reference.py bench MODEL WxH RUNS THREADS
      prints {"min_ms":..,"median_ms":..} for fp32 ORT on a random input (one warm-up run).
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort


def session(model, threads=None):
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def run(args):
    from PIL import Image
    model, src, dst = args[:3]
    bgr = "--bgr" in args
    scale = 255.0 if "--range" in args and args[args.index("--range") + 1] == "255" else 1.0
    img = np.asarray(Image.open(src).convert("RGB"), dtype=np.float32) * (scale / 255.0)
    if bgr:
        img = img[:, :, ::-1]
    x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])
    s = session(model)
    y = s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float32)
    y.tofile(dst)
    print(json.dumps({"shape": list(y.shape)}))


def bench(args):
    model, size, runs, threads = args[0], args[1], int(args[2]), int(args[3])
    w, h = (int(v) for v in size.split("x"))
    s = session(model, threads)
    x = np.random.default_rng(1).random((1, 3, h, w), dtype=np.float32)
    feeds = {s.get_inputs()[0].name: x}
    s.run(None, feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        s.run(None, feeds)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(json.dumps({"min_ms": round(times[0], 2), "median_ms": round(times[len(times) // 2], 2)}))


if __name__ == "__main__":
    {"run": run, "bench": bench}[sys.argv[1]](sys.argv[2:])
