#!/usr/bin/env python3
"""Reference PNG decodes from Pillow, for the SRImage PNG tests.

Usage:
  png_reference.py DIR          every *.png in DIR whose name does not start with 'x'
  png_reference.py FILE...      the given files

Prints one JSON object: {"pillow": version, "files": [entry, ...]}, each entry with
  name, width, height, mode (Pillow's mode after open), ihdr_depth, ihdr_color (read from
  the file's IHDR), transparency (Pillow's info["transparency"]: int, [r,g,b], or "bytes"),
  native_kind + native (hex): Pillow's own samples, in a form the test can rebuild exactly:
      mode "1"      -> kind "L"      im.convert("L")  (0 / 255)
      mode "P"      -> kind "RGBA"   im.convert("RGBA") (palette colour + tRNS alpha)
      mode "I;16"   -> kind "I16LE"  im.tobytes(), little-endian 16-bit (full precision)
      L / LA / RGB / RGBA -> same kind, im.tobytes()
  rgb (hex): im.convert("RGB"), and rgb_rule "convert"; except for mode "I;16", where Pillow's
      convert("RGB") clamps values to 255, so rgb is built from Pillow's 16-bit samples by
      taking the high byte (v >> 8) and rgb_rule is "i16-high-byte".
  rgba (hex, optional): im.convert("RGBA") for 8-bit gray / RGB files with a tRNS colour key
      (Pillow applies the key correctly only when the file's samples are 8-bit).
"""
import json
import os
import sys
import warnings

from PIL import Image, __version__ as pillow_version


def entry(path):
    with open(path, "rb") as f:
        head = f.read(26)
    im = Image.open(path)
    im.load()
    e = {
        "name": os.path.basename(path),
        "width": im.width,
        "height": im.height,
        "mode": im.mode,
        "ihdr_depth": head[24],
        "ihdr_color": head[25],
    }
    t = im.info.get("transparency")
    if isinstance(t, bytes):
        e["transparency"] = "bytes"
    elif isinstance(t, tuple):
        e["transparency"] = list(t)
    else:
        e["transparency"] = t
    if im.mode == "1":
        kind, native = "L", im.convert("L").tobytes()
    elif im.mode == "P":
        kind, native = "RGBA", im.convert("RGBA").tobytes()
    elif im.mode == "I;16":
        kind, native = "I16LE", im.tobytes()
    elif im.mode in ("L", "LA", "RGB", "RGBA"):
        kind, native = im.mode, im.tobytes()
    else:
        raise SystemExit(f"{path}: unexpected Pillow mode {im.mode}")
    e["native_kind"] = kind
    e["native"] = native.hex()
    if im.mode == "I;16":
        high = native[1::2]  # little-endian: odd bytes are the high bytes
        e["rgb"] = bytes(b for v in high for b in (v, v, v)).hex()
        e["rgb_rule"] = "i16-high-byte"
    else:
        e["rgb"] = im.convert("RGB").tobytes().hex()
        e["rgb_rule"] = "convert"
    if t is not None and im.mode in ("L", "RGB") and head[24] == 8 and head[25] in (0, 2):
        e["rgba"] = im.convert("RGBA").tobytes().hex()
    return e


def main(args):
    # convert('RGB') of a palette image with a tRNS alpha table warns; the output is what we want.
    warnings.simplefilter("ignore")
    if len(args) == 1 and os.path.isdir(args[0]):
        paths = [os.path.join(args[0], n) for n in sorted(os.listdir(args[0]))
                 if n.endswith(".png") and not n.startswith("x")]
    else:
        paths = args
    json.dump({"pillow": pillow_version, "files": [entry(p) for p in paths]}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
