#!/usr/bin/env python3
"""Writes a structurally faithful RDN (Zhang et al., "Residual Dense Network for Image
Super-Resolution", CVPR 2018) as ONNX, with seeded random weights.

No pretrained RDN weights are available to this project, so this generator stands in: the
graph has the paper's structure (shallow features, residual dense blocks with dense
connections, local and global feature fusion, global residual, sub-pixel upsampler), and the
weights are He-scaled so activations keep a realistic magnitude through the network.

  scripts/make_rdn.py --scale 2 -o rdn_x2.onnx                 # small: D=4 C=4 G=16 G0=32
  scripts/make_rdn.py --scale 4 --paper -o rdn_x4.onnx         # the paper's D=16 C=8 G=64 G0=64
  scripts/make_rdn.py --scale 3 --old-pixel-shuffle -o o.onnx  # PixelShuffle as Reshape/Transpose/Reshape

Input `input` is float32 [1,3,height,width] (height, width dynamic), output `output` is
[1,3,scale*height,scale*width]. Opset 17.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, prefix, array):
        n = self.name(prefix)
        self.inits.append(numpy_helper.from_array(array, n))
        return n

    def node(self, op, inputs, prefix=None, **attrs):
        out = self.name(prefix or op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, cin, cout, k, relu_follows):
        fan_in = cin * k * k
        # He initialisation for convs feeding a ReLU, unit-gain (LeCun) scale otherwise.
        std = np.sqrt((2.0 if relu_follows else 1.0) / fan_in)
        w = (self.rng.standard_normal((cout, cin, k, k)) * std).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.01).astype(np.float32)
        wn, bn = self.const("w", w), self.const("b", b)
        return self.node("Conv", [x, wn, bn], "conv", kernel_shape=[k, k], pads=[k // 2] * 4)

    def pixel_shuffle(self, x, channels_out, r, old_style):
        if not old_style:
            return self.node("DepthToSpace", [x], "pixel_shuffle", blocksize=r, mode="CRD")
        # The pre-DepthToSpace export: dims computed from Shape at run time.
        shape = self.node("Shape", [x], "shape")
        axis0 = self.const("axes", np.array([0], dtype=np.int64))

        def dim(i):
            g = self.node("Gather", [shape, self.const("idx", np.array(i, dtype=np.int64))], "gather", axis=0)
            return g

        def unsq(v):
            return self.node("Unsqueeze", [v, axis0], "unsqueeze")

        n, h, w = dim(0), dim(2), dim(3)
        c_r_r = self.const("dims", np.array([channels_out, r, r], dtype=np.int64))
        target6 = self.node("Concat", [unsq(n), c_r_r, unsq(h), unsq(w)], "concat", axis=0)
        y = self.node("Reshape", [x, target6], "reshape")
        y = self.node("Transpose", [y], "transpose", perm=[0, 1, 4, 2, 5, 3])
        rr = self.const("r", np.array(r, dtype=np.int64))
        hr = self.node("Mul", [h, rr], "mul")
        wr = self.node("Mul", [w, rr], "mul")
        c = self.const("c", np.array([channels_out], dtype=np.int64))
        target4 = self.node("Concat", [unsq(n), c, unsq(hr), unsq(wr)], "concat", axis=0)
        return self.node("Reshape", [y, target4], "reshape")


def build(scale, D, C, G, G0, old_style, seed):
    b = Builder(seed)
    f1 = b.conv("input", 3, G0, 3, False)           # SFENet1: feeds the global residual
    x = b.conv(f1, G0, G0, 3, False)                # SFENet2
    block_outputs = []
    for _ in range(D):
        feats = [x]
        for c in range(C):
            inp = feats[0] if len(feats) == 1 else b.node("Concat", feats, "concat", axis=1)
            y = b.node("Relu", [b.conv(inp, G0 + c * G, G, 3, True)], "relu")
            feats.append(y)
        fused = b.conv(b.node("Concat", feats, "concat", axis=1), G0 + C * G, G0, 1, False)  # local feature fusion
        x = b.node("Add", [fused, x], "add")          # local residual learning
        block_outputs.append(x)
    g = b.conv(b.node("Concat", block_outputs, "concat", axis=1), D * G0, G0, 1, False)  # GFF 1x1
    g = b.conv(g, G0, G0, 3, False)                                                       # GFF 3x3
    x = b.node("Add", [g, f1], "add")                                                     # global residual
    stages = [2, 2] if scale == 4 else [scale]
    cin = G0
    for r in stages:
        x = b.conv(x, cin, G * r * r, 3, False)
        x = b.pixel_shuffle(x, G, r, old_style)
        cin = G
    b.nodes.append(helper.make_node("Conv", [x, b.const("w", (b.rng.standard_normal((3, cin, 3, 3)) * np.sqrt(1.0 / (cin * 9))).astype(np.float32)),
                                             b.const("b", np.zeros(3, dtype=np.float32))],
                                    ["output"], name="conv_out", kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
    graph = helper.make_graph(
        b.nodes, f"rdn_x{scale}_D{D}C{C}G{G}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "height", "width"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "out_height", "out_width"])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_rdn.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, choices=[2, 3, 4], default=2)
    p.add_argument("--D", type=int, default=4, help="residual dense blocks")
    p.add_argument("--C", type=int, default=4, help="conv layers per block")
    p.add_argument("--G", type=int, default=16, help="growth rate")
    p.add_argument("--G0", type=int, default=32, help="feature channels")
    p.add_argument("--paper", action="store_true", help="the paper's D=16 C=8 G=64 G0=64")
    p.add_argument("--old-pixel-shuffle", action="store_true",
                   help="emit PixelShuffle as Reshape/Transpose/Reshape with Shape-computed dims")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True)
    a = p.parse_args()
    if a.paper:
        a.D, a.C, a.G, a.G0 = 16, 8, 64, 64
    model = build(a.scale, a.D, a.C, a.G, a.G0, a.old_pixel_shuffle, a.seed)
    onnx.save(model, a.output)


if __name__ == "__main__":
    main()
