#!/usr/bin/env python3
"""srvm against the int8 engines a user would otherwise pick: the work behind scripts/bench-vs-peers.

    peers_bench.py --bin DIR [--runs N] [--rounds R] [--threads T] [--size WxH] [--models xlsr,edsr,imdn]
                   [--work DIR] [--shared DIR] [--no-srvm] [--recompile] [--json] [--isa best|avx2]

Engines, all at the same input size and thread count, taking turns R times (each turn: one warm-up
run then N timed runs; reported: the median of the turns' medians, and the minimum):
  ORT fp32      onnxruntime, intra_op_num_threads=T, inter_op 1, sequential, all graph optimizations
  ORT int8      quantize_static, QDQ, per-channel int8 weights, MinMax calibration on Set14 LR;
                four variants (U8S8/S8S8, with/without reduce_range), the fastest is "ORT int8 best"
  OV fp32       OpenVINO CPU, INFERENCE_NUM_THREADS=T, LATENCY hint, inference precision pinned to f32
  OV int8       nncf.quantize (post-training, same calibration images), compiled the same way
  srvm -b 8/-b 4  srcc compile (cached .qsr), timed by `srvm bench --json`
--isa avx2 emulates a CPU without AVX-512, VNNI or AMX (the AVX2 machines, e.g. Zen 3): srvm runs
--kernels avx2 and OpenVINO runs with ONEDNN_MAX_CPU_ISA=AVX2 (its oneDNN convolutions obey it; a
few of the plugin's own nodes still use AVX-512, and some models fail to compile: their cells read
n/a with the reason); ONNX Runtime has no such cap, so its columns are left out.
Quantized models (ORT .onnx, OpenVINO IR) and .qsr programs are cached in --work; a cached file is
remade when the source model is newer (or, for .qsr, with --recompile). Timing only: no accuracy.
Progress goes to stderr, the table (or --json) to stdout.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

# name -> ONNX file, scale, channel order, input range (the LR convention of each checkpoint)
MODELS = {
    "xlsr": ("xlsr_x3_cxzhou95.onnx", 3, "bgr", 1),
    "edsr": ("edsr_r8f64_x2_krasserm.onnx", 2, "rgb", 255),
    "imdn": ("imdn_x4_zheng222.onnx", 4, "rgb", 1),
}
ORT_VARIANTS = [  # (label, activation type, weight type, reduce_range)
    ("U8S8", "QUInt8", "QInt8", False),
    ("U8S8-rr", "QUInt8", "QInt8", True),
    ("S8S8", "QInt8", "QInt8", False),
    ("S8S8-rr", "QInt8", "QInt8", True),
]
ENGINES = ["ORT fp32", "ORT int8 best", "OV fp32", "OV int8", "srvm -b 8", "srvm -b 4"]
PEERS = ENGINES[:4]


def log(msg):
    print("bench-vs-peers: " + msg, file=sys.stderr, flush=True)


def fresh(path, *sources):
    """True when path exists and is no older than every source."""
    return os.path.exists(path) and all(os.path.getmtime(path) >= os.path.getmtime(s) for s in sources)


def time_runs(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"min_ms": round(min(times), 2), "median_ms": round(statistics.median(times), 2)}


def cpu_summary():
    name, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and name == "unknown":
                    name = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"]
    return {"model": name, "cores": os.cpu_count(), "flags": [f for f in wanted if f in flags]}


# ---------------------------------------------------------------- inputs

def bench_input(size, rng_range):
    w, h = size
    x = np.random.default_rng(2024).random((1, 3, h, w), dtype=np.float32)  # fixed seed, uniform
    return x * np.float32(rng_range)


def calibration_images(shared, scale, channels, rng_range):
    """Set14 LR images of the model's scale, whole, as [1,3,h,w] float32 in the model's convention."""
    from PIL import Image
    files = sorted(glob.glob(os.path.join(shared, "datasets", "Set14", "LR_bicubic", "X%d" % scale, "*.png")))
    if not files:
        raise RuntimeError("no calibration images under %s/datasets/Set14/LR_bicubic/X%d" % (shared, scale))
    images = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) * np.float32(rng_range / 255.0)
        if channels == "bgr":
            img = img[:, :, ::-1]
        images.append(np.ascontiguousarray(img.transpose(2, 0, 1)[None]))
    return images


# ---------------------------------------------------------------- MACs from the ONNX graph

def onnx_gmacs(path, size):
    """Multiply-accumulates of the Conv/ConvTranspose/MatMul/Gemm nodes at the given input size,
    shapes from onnx shape inference on a copy of the model with the input made static."""
    import onnx
    from onnx import numpy_helper, shape_inference
    w, h = size
    m = onnx.load(path)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 3, h, w)):
        d.Clear()
        d.dim_value = v
    m = shape_inference.infer_shapes(m, data_prop=True)
    shapes = {}
    for vi in list(m.graph.input) + list(m.graph.value_info) + list(m.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    for t in m.graph.initializer:
        shapes[t.name] = list(t.dims)
    for n in m.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(numpy_helper.to_array(a.t).shape)
    macs = 0
    for n in m.graph.node:
        try:
            if n.op_type == "Conv":
                cout, cin_g, *k = shapes[n.input[1]]
                out = shapes[n.output[0]]
                macs += out[0] * cout * prod(out[2:]) * cin_g * prod(k)
            elif n.op_type == "ConvTranspose":
                cin, cout_g, *k = shapes[n.input[1]]
                inp = shapes[n.input[0]]
                macs += inp[0] * cin * prod(inp[2:]) * cout_g * prod(k)
            elif n.op_type in ("MatMul", "Gemm"):
                a, b = shapes[n.input[0]], shapes[n.input[1]]
                macs += prod(a) * b[-1]
        except (KeyError, ValueError):
            log("MAC count: no shape for %s node %s; not counted" % (n.op_type, n.name))
    return macs / 1e9


def prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


# ---------------------------------------------------------------- ONNX Runtime

def ort_session(path, threads):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_time(path, x, threads, runs):
    s = ort_session(path, threads)
    feeds = {s.get_inputs()[0].name: x}
    return time_runs(lambda: s.run(None, feeds), runs)


def ort_quantized(name, path, work, images, variant):
    """Path of the cached ORT QDQ model for one variant, made if missing or stale."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    label, act, wt, reduce_range = variant
    pre = os.path.join(work, "%s_ort_pre.onnx" % name)
    out = os.path.join(work, "%s_ort_int8_%s.onnx" % (name, label))
    if fresh(out, path):
        return out
    if not fresh(pre, path):
        # Symbolic shape inference + ORT's own graph optimizations before quantizing, as ORT's
        # docs recommend; it lets the quantizer see fused Conv+activation patterns.
        log("ORT pre-processing %s" % os.path.basename(path))
        quant_pre_process(path, pre)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(images)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    log("ORT quantize_static %s %s (%d calibration images)" % (name, label, len(images)))
    tmp = out + ".tmp.onnx"
    quantize_static(pre, tmp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=getattr(QuantType, act), weight_type=getattr(QuantType, wt),
                    reduce_range=reduce_range, calibrate_method=CalibrationMethod.MinMax)
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------- OpenVINO

def ov_time(model, x, threads, runs, fp32):
    import openvino as ov
    core = ov.Core()
    # A static input shape lets the CPU plugin pick its kernels and memory plan once at compile
    # time instead of per inference; on these convnets it is the faster setting.
    model.reshape({model.inputs[0]: ov.PartialShape(list(x.shape))})
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
    if fp32:
        # The "fp32" column stays fp32 on CPUs where OpenVINO would default to bf16 (AMX, AVX512_BF16).
        config["INFERENCE_PRECISION_HINT"] = "f32"
    compiled = core.compile_model(model, "CPU", config)
    req = compiled.create_infer_request()
    return time_runs(lambda: req.infer({0: x}, share_inputs=True), runs)


def ov_quantized(name, path, work, images):
    """The cached NNCF-quantized OpenVINO IR, made if missing or stale. Quantized on the model as
    read from ONNX (dynamic H, W), so the whole calibration images of every size can be fed."""
    import openvino as ov
    xml = os.path.join(work, "%s_ov_int8.xml" % name)
    core = ov.Core()
    if not fresh(xml, path):
        import nncf
        log("nncf.quantize %s (%d calibration images)" % (name, len(images)))
        q = nncf.quantize(core.read_model(path), nncf.Dataset(images), subset_size=len(images))
        ov.save_model(q, xml, compress_to_fp16=False)
    return core.read_model(xml)


# ---------------------------------------------------------------- srvm

def srvm_bench_available(bin_dir):
    srvm = os.path.join(bin_dir, "srvm")
    if not os.access(srvm, os.X_OK):
        return False, "no srvm binary in %s" % bin_dir
    # ArgumentParser answers `srvm bench --help` with the root help (exit 0) when there is no
    # bench subcommand, so look for the subcommand's own usage line.
    r = subprocess.run([srvm, "bench", "--help"], capture_output=True, text=True)
    if r.returncode != 0 or "srvm bench" not in r.stdout + r.stderr:
        return False, "`srvm bench` not available in this build"
    return True, ""


def srvm_compile(bin_dir, name, path, work, shared, bits, force):
    file, scale, channels, rng_range = MODELS[name]
    out = os.path.join(work, "%s_b%d.qsr" % (name, bits))
    if fresh(out, path) and not force:
        return out
    calib = os.path.join(shared, "datasets", "Set14", "LR_bicubic", "X%d" % scale)
    cmd = [os.path.join(bin_dir, "srcc"), "compile", path, "-b", str(bits), "--calib", calib,
           "-o", out + ".tmp", "--quiet", "--range", str(rng_range)]
    if channels == "bgr":
        cmd += ["--channels", "bgr"]
    log("compiling %s -b %d with srcc (takes minutes; cached afterwards)" % (name, bits))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("srcc compile failed: " + (r.stderr.strip() or r.stdout.strip())[-400:])
    os.replace(out + ".tmp", out)
    return out


def srvm_time(bin_dir, qsr, size, threads, runs, isa):
    cmd = [os.path.join(bin_dir, "srvm"), "bench", qsr, "--size", "%dx%d" % size,
           "--threads", str(threads), "--runs", str(runs), "--json"]
    if isa == "avx2":
        cmd += ["--kernels", "avx2"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("srvm bench failed: " + (r.stderr.strip() or r.stdout.strip())[-400:])
    line = [l for l in r.stdout.splitlines() if l.strip().startswith("{")][-1]
    return json.loads(line)


def srvm_entry(args, name, path, bits):
    """Compile (cached) and time one program; on a failure with a cached .qsr, recompile once
    (an old program may predate a format change) and retry."""
    qsr = srvm_compile(args.bin, name, path, args.work, args.shared, bits, args.recompile)
    try:
        return srvm_time(args.bin, qsr, args.size, args.threads, args.runs, args.isa)
    except RuntimeError:
        if args.recompile:
            raise
        log("srvm bench failed on the cached %s; recompiling once" % os.path.basename(qsr))
        qsr = srvm_compile(args.bin, name, path, args.work, args.shared, bits, True)
        return srvm_time(args.bin, qsr, args.size, args.threads, args.runs, args.isa)


# ---------------------------------------------------------------- driver

def bench_model(args, name, srvm_ok, srvm_why):
    file, scale, channels, rng_range = MODELS[name]
    path = os.path.join(args.shared, "models", file)
    row = {"model": name, "file": file, "scale": scale, "size": "%dx%d" % args.size,
           "threads": args.threads, "runs": args.runs, "engines": {}, "notes": []}
    eng = row["engines"]
    row["gmacs_onnx"] = round(onnx_gmacs(path, args.size), 4)
    x = bench_input(args.size, rng_range)
    images = calibration_images(args.shared, scale, channels, rng_range)

    # The engines take turns, `rounds` times over: this machine's speed swings by up to 2x from
    # one minute (or process) to the next (a busy neighbour on the shared core), and taking turns
    # gives every engine the same exposure. Each round warms up and times `runs` runs.
    timers = []
    for bits in (8, 4):
        label = "srvm -b %d" % bits
        if args.no_srvm:
            eng[label] = None
        elif not srvm_ok:
            eng[label] = None
            row["notes"].append("%s: %s" % (label, srvm_why))
        else:
            timers.append((label, lambda b=bits: srvm_entry(args, name, path, b)))
    if args.isa == "avx2":
        eng["ORT fp32"] = None
        row["notes"].append("ORT: left out under --isa avx2 (no ISA cap)")
    else:
        timers.append(("ORT fp32", lambda: ort_time(path, x, args.threads, args.runs)))
        for v in ORT_VARIANTS:
            timers.append(("ORT int8 " + v[0], lambda v=v: ort_time(ort_quantized(name, path, args.work, images, v), x, args.threads, args.runs)))
    timers.append(("OV fp32", lambda: ov_time(__import__("openvino").Core().read_model(path), x, args.threads, args.runs, True)))
    timers.append(("OV int8", lambda: ov_time(ov_quantized(name, path, args.work, images), x, args.threads, args.runs, False)))

    results = {label: [] for label, _ in timers}
    failed, best = set(), None
    for r in range(args.rounds):
        for label, fn in timers:
            # After the first round only the fastest ORT int8 variant goes on.
            if label in failed or (r > 0 and label.startswith("ORT int8 ") and label != best):
                continue
            try:
                results[label].append(fn())
                log("%-5s round %d/%d %-14s median %9.2f ms  min %9.2f ms"
                    % (name, r + 1, args.rounds, label, results[label][-1]["median_ms"], results[label][-1]["min_ms"]))
            except Exception as e:  # one engine failing must not hide the others
                failed.add(label)
                row["notes"].append("%s: %s" % (label, str(e).strip().splitlines()[-1][:300] if str(e).strip() else type(e).__name__))
                log("%s %s failed: %s" % (name, label, e))
        if r == 0:
            ort = [l for l in results if l.startswith("ORT int8 ") and results[l]]
            best = min(ort, key=lambda l: results[l][0]["median_ms"]) if ort else None

    def combined(rs):
        """The median of the rounds' medians and the minimum over every run."""
        out = dict(rs[0])
        out["median_ms"] = round(statistics.median(x["median_ms"] for x in rs), 2)
        out["min_ms"] = round(min(x["min_ms"] for x in rs), 2)
        out["round_medians_ms"] = [x["median_ms"] for x in rs]
        return out

    for label, rs in results.items():
        if not label.startswith("ORT int8 "):
            eng[label] = combined(rs) if rs else None
    row["ort_int8_variants"] = {l[len("ORT int8 "):]: results[l][0] for l in results if l.startswith("ORT int8 ") and results[l]}
    eng["ORT int8 best"] = dict(combined(results[best]), variant=best[len("ORT int8 "):]) if best else None

    # MACs: srvm's count where it ran (the program's own), else the ONNX graph's.
    srvm_gmacs = next((e["gmacs"] for e in (eng.get("srvm -b 8"), eng.get("srvm -b 4")) if e and "gmacs" in e), None)
    row["gmacs_srvm"] = srvm_gmacs
    gmacs = srvm_gmacs if srvm_gmacs else row["gmacs_onnx"]
    row["gmacs"] = gmacs
    if srvm_gmacs and abs(srvm_gmacs - row["gmacs_onnx"]) > 0.01 * row["gmacs_onnx"]:
        row["notes"].append("MAC counts differ: srvm %.3f G, ONNX Conv nodes %.3f G" % (srvm_gmacs, row["gmacs_onnx"]))
    for e in eng.values():
        if e:
            e["gmac_per_s"] = round(gmacs / (e["median_ms"] / 1000), 2)

    for k in ENGINES:
        eng.setdefault(k, None)
    peers = [(k, eng[k]["median_ms"]) for k in PEERS if eng.get(k)]
    fastest = min(peers, key=lambda p: p[1]) if peers else None
    row["fastest_peer"] = fastest[0] if fastest else None
    ratios = {}
    for bits in (8, 4):
        s = eng.get("srvm -b %d" % bits)
        ratios["b%d/peer" % bits] = round(s["median_ms"] / fastest[1], 3) if s and fastest else None
    b8, b4 = eng.get("srvm -b 8"), eng.get("srvm -b 4")
    ratios["b4/b8"] = round(b4["median_ms"] / b8["median_ms"], 3) if b8 and b4 else None
    row["ratios"] = ratios
    return row


def print_table(cpu, args, rows):
    def cell(v, fmt):
        return fmt % v if v is not None else "n/a"

    print("CPU: %s, %s cores, flags: %s" % (cpu["model"], cpu["cores"], " ".join(cpu["flags"]) or "none of avx2/avx512/vnni"))
    print("input %dx%d LR, %d threads; engines take turns %d times, each turn 1 warm-up and %d timed runs;"
          " ms are the median of the turns' medians (min over all runs in parentheses)"
          % (args.size[0], args.size[1], args.threads, args.rounds, args.runs))
    if args.isa == "avx2":
        print("--isa avx2: srvm --kernels avx2, OpenVINO with ONEDNN_MAX_CPU_ISA=AVX2, ONNX Runtime left out")
    print()
    head = ["model", "GMAC"] + ENGINES
    widths = [6, 7] + [18] * len(ENGINES)
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))))
    for r in rows:
        cells = [r["model"], cell(r["gmacs"], "%.2f")]
        for k in ENGINES:
            e = r["engines"].get(k)
            cells.append("%.1f (%.1f)" % (e["median_ms"], e["min_ms"]) if e else "n/a")
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))))
    print()
    print("GMAC/s (MACs / median time)")
    widths2 = [6] + [14] * len(ENGINES)
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(["model"] + ENGINES, widths2))))
    for r in rows:
        cells = [r["model"]] + [cell(r["engines"][k]["gmac_per_s"] if r["engines"].get(k) else None, "%.1f") for k in ENGINES]
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths2))))
    print()
    print("ratios of median times (< 1.0: srvm faster)")
    print("%-6s  %-14s  %10s  %10s  %10s" % ("model", "fastest peer", "b8/peer", "b4/peer", "b4/b8"))
    for r in rows:
        q = r["ratios"]
        print("%-6s  %-14s  %10s  %10s  %10s" % (r["model"], r["fastest_peer"] or "n/a", cell(q["b8/peer"], "%.2f"),
                                              cell(q["b4/peer"], "%.2f"), cell(q["b4/b8"], "%.2f")))
    print()
    for r in rows:
        v = r["ort_int8_variants"]
        if v:
            print("%s ORT int8 variants (median ms): %s" % (r["model"], ", ".join("%s %.1f" % (k, v[k]["median_ms"]) for k in v)))
        print("%s MACs: ONNX Conv nodes %.3f G, srvm %s" % (r["model"], r["gmacs_onnx"], cell(r["gmacs_srvm"], "%.3f G")))
        for n in r["notes"]:
            print("%s note: %s" % (r["model"], n))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="", help="directory holding srcc and srvm (swift build --show-bin-path)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per engine per round")
    p.add_argument("--rounds", type=int, default=3, help="times every engine takes its turn")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", default="256x256", help="LR input WxH")
    p.add_argument("--models", default="xlsr,edsr,imdn")
    p.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "srcc-bench-vs-peers"))
    p.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
    p.add_argument("--no-srvm", action="store_true", help="peers only")
    p.add_argument("--recompile", action="store_true", help="remake the cached .qsr programs")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument("--isa", choices=["best", "avx2"], default="best",
                   help="avx2: srvm and OpenVINO capped at AVX2 (an AVX2-only CPU's kernels), ORT left out")
    args = p.parse_args()
    if args.isa == "avx2":
        # Read by oneDNN when OpenVINO loads it, so it must be set before the first import.
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
        args.size = (w, h)
    except ValueError:
        p.error("--size wants WxH, e.g. 256x256")
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            p.error("unknown model %r (known: %s)" % (n, ", ".join(MODELS)))
    if args.runs < 1 or args.threads < 1 or args.rounds < 1:
        p.error("--runs, --rounds and --threads must be at least 1")
    args.shared = os.path.abspath(args.shared)
    os.makedirs(args.work, exist_ok=True)

    global np
    import numpy as np

    srvm_ok, srvm_why = (False, "skipped (--no-srvm)") if args.no_srvm else srvm_bench_available(args.bin)
    if not srvm_ok and not args.no_srvm:
        log("srvm column n/a: " + srvm_why)
    cpu = cpu_summary()
    rows = [bench_model(args, n, srvm_ok, srvm_why) for n in names]
    if args.json:
        print(json.dumps({"cpu": cpu, "isa": args.isa, "size": "%dx%d" % args.size, "threads": args.threads, "runs": args.runs, "rounds": args.rounds,
                          "models": rows}, indent=1))
    else:
        print_table(cpu, args, rows)


if __name__ == "__main__":
    main()
