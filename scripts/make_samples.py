#!/usr/bin/env python3
"""Makes the project's own demo material in samples/ (no external data):

  samples/cubic_x2.onnx  a x2 super-resolution graph in the shape SR nets have
                         (grouped Conv -> DepthToSpace(CRD) -> Clip), whose weights are the
                         Keys cubic kernel (a = -0.5), i.e. bicubic upscaling written as a net.
  samples/pattern.png    a 96x96 synthetic test image (zone plate, gradients, edges).

Run: python3 scripts/make_samples.py  (needs numpy, onnx, pillow; see scripts/setup)
"""
import os
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "samples")


def cubic(x, a=-0.5):
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def phase_taps(phase):
    """Weights on input offsets -2..+2 for output sub-pixel `phase` (0 or 1) of a x2 upscale.
    Output pixel 2i+phase sits at input coordinate i - 0.25 + 0.5*phase."""
    centre = -0.25 + 0.5 * phase
    w = np.array([cubic(k - centre) for k in range(-2, 3)], dtype=np.float64)
    return w / w.sum()


def cubic_x2_model():
    # Grouped conv: one group per colour channel, 4 outputs per group = the 2x2 sub-pixel
    # phases, ordered c*4 + i*2 + j as DepthToSpace CRD expects.
    weight = np.zeros((12, 1, 5, 5), dtype=np.float32)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                weight[c * 4 + i * 2 + j, 0] = np.outer(phase_taps(i), phase_taps(j))
    bias = np.zeros(12, dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "upsample.weight", "upsample.bias"], ["phases"],
                         name="upsample", kernel_shape=[5, 5], pads=[2, 2, 2, 2], group=3),
        helper.make_node("DepthToSpace", ["phases"], ["shuffled"], name="pixel_shuffle", blocksize=2, mode="CRD"),
        helper.make_node("Clip", ["shuffled", "zero", "one"], ["output"], name="clamp"),
    ]
    graph = helper.make_graph(
        nodes, "cubic_x2",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "out_height", "out_width"])],
        initializer=[numpy_helper.from_array(weight, "upsample.weight"), numpy_helper.from_array(bias, "upsample.bias"),
                     numpy_helper.from_array(np.array(0, np.float32), "zero"),
                     numpy_helper.from_array(np.array(1, np.float32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="srcc make_samples.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def pattern(size=96):
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r2 = (x - size / 2) ** 2 + (y - size / 2) ** 2
    zone = 0.5 + 0.5 * np.cos(np.pi * r2 / (size * 1.5))
    img = np.stack([zone, x / (size - 1), y / (size - 1)], axis=-1)
    img[size // 8: size // 4, size // 8: size - size // 8] = [1.0, 0.9, 0.2]  # a hard-edged bar
    img[size - size // 4: size - size // 8, size // 4: size // 2] = [0.1, 0.2, 0.8]
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    onnx.save(cubic_x2_model(), os.path.join(OUT, "cubic_x2.onnx"))
    Image.fromarray(pattern(), "RGB").save(os.path.join(OUT, "pattern.png"), optimize=True)
    print("wrote samples/cubic_x2.onnx and samples/pattern.png")


if __name__ == "__main__":
    main()
