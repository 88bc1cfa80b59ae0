import SRImage
import FixedPoint
import QSRFormat

/// The compiler's own execution of a lowered program: every instruction as the plain formula
/// of SPEC.md §5.3 on Int32 tensors, written independently of srvm's kernels. srvm's output
/// must be bit-identical to this (a test on every shared model); `srcc eval MODEL.qsr` and the
/// compiler's accuracy reports use it.
public struct IntegerSimulation {
    public let program: Program

    public init(program: Program) { self.program = program }

    /// A [C,H,W] integer tensor.
    public struct Tensor3 {
        public var c: Int, h: Int, w: Int
        public var q: [Int32]
        init(c: Int, h: Int, w: Int) { self.c = c; self.h = h; self.w = w; q = [Int32](repeating: 0, count: c * h * w) }
        @inline(__always) func at(_ ch: Int, _ y: Int, _ x: Int) -> Int32 { q[(ch * h + y) * w + x] }
    }

    /// Upscales `image` (RGB); returns the RGB output and, when asked, every value's tensor.
    public func run(_ image: RGBImage, keepValues: Bool = false) -> (image: RGBImage, values: [Int: Tensor3]) {
        let md = program.metadata
        var env: [Int: Tensor3] = [:]
        var kept: [Int: Tensor3] = [:]
        let order = md.channelOrder == .rgb ? [0, 1, 2] : [2, 1, 0]
        func shape(_ v: ValueID) -> (Int, Int, Int) {
            let d = program.values[Int(v)]
            return (Int(d.channels), d.height.evaluate(height: image.height, width: image.width), d.width.evaluate(height: image.height, width: image.width))
        }
        var result = RGBImage(width: 0, height: 0)
        for ins in program.instructions {
            switch ins {
            case .inputPixels(let dst):
                var t = Tensor3(c: 3, h: image.height, w: image.width)
                for c in 0..<3 { for y in 0..<t.h { for x in 0..<t.w { t.q[(c * t.h + y) * t.w + x] = Int32(image[x, y, order[c]]) } } }
                env[Int(dst)] = t
            case .conv(let dst, let src, let p, let wID, _, let bID, let r, let padID):
                let x = env[Int(src)]!
                let (oc, oh, ow) = shape(dst)
                var t = Tensor3(c: oc, h: oh, w: ow)
                let w = program.constants[Int(wID)].values, b = program.constants[Int(bID)].values
                let pad = padID.map { program.constants[Int($0)].values }
                let cg = Int(p.inputChannels) / Int(p.group), og = oc / Int(p.group)
                let kh = Int(p.kernelHeight), kw = Int(p.kernelWidth)
                let sy = Int(p.strideY), sx = Int(p.strideX), dy = Int(p.dilationY), dx = Int(p.dilationX)
                let hp = x.h + Int(p.padTop) + Int(p.padBottom), wp = x.w + Int(p.padLeft) + Int(p.padRight)
                // Int32 accumulators with wrapping adds: the spec's int32 accumulator, exactly.
                var acc = [Int32](repeating: 0, count: oc * oh * ow)
                var padded = [Int32](repeating: 0, count: hp * wp)
                for ci in 0..<Int(p.inputChannels) {
                    let g = ci / cg, c = ci % cg
                    let fill = pad?[ci] ?? 0
                    for i in padded.indices { padded[i] = fill }
                    for y in 0..<x.h { for xi in 0..<x.w { padded[(y + Int(p.padTop)) * wp + xi + Int(p.padLeft)] = x.at(ci, y, xi) } }
                    padded.withUnsafeBufferPointer { pp in
                        acc.withUnsafeMutableBufferPointer { ap in
                            for o in (g * og)..<((g + 1) * og) {
                                for ky in 0..<kh { for kx in 0..<kw {
                                    let wv = w[((o * cg + c) * kh + ky) * kw + kx]
                                    if wv == 0 { continue }
                                    for y in 0..<oh {
                                        let row = (y * sy + ky * dy) * wp + kx * dx
                                        let out = (o * oh + y) * ow
                                        for xo in 0..<ow { ap[out + xo] &+= wv &* pp[row + xo * sx] }
                                    }
                                } }
                            }
                        }
                    }
                }
                let plane = oh * ow
                for o in 0..<oc {
                    for i in 0..<plane {
                        let v = acc[o * plane + i] &+ b[o]
                        t.q[o * plane + i] = clamp(requantize(v, r.multiplier(channel: o, accumulator: v)) &+ r.offset, r.clampMin, r.clampMax)
                    }
                }
                env[Int(dst)] = t
            case .requantize(let dst, let src, let r):
                var t = env[Int(src)]!
                let plane = t.h * t.w
                for i in t.q.indices { t.q[i] = clamp(requantize(t.q[i], r.multiplier(channel: i / plane, accumulator: t.q[i])) &+ r.offset, r.clampMin, r.clampMax) }
                env[Int(dst)] = t
            case .add(let dst, let a, let b, let l, let ma, let mb, let mo, let sub, let lo, let hi):
                var t = env[Int(a)]!
                let bt = env[Int(b)]!
                let plane = t.h * t.w
                for i in t.q.indices {
                    let bv = bt.h * bt.w == 1 ? bt.q[i / plane] : bt.q[i]
                    let ra = requantize(t.q[i] << Int32(l), ma), rb = requantize(bv << Int32(l), mb)
                    t.q[i] = clamp(requantize(sub ? ra - rb : ra + rb, mo), lo, hi)
                }
                env[Int(dst)] = t
            case .mul(let dst, let a, let b, let m, let lo, let hi):
                var t = env[Int(a)]!
                let bt = env[Int(b)]!
                let plane = t.h * t.w
                for i in t.q.indices {
                    let bv = bt.h * bt.w == 1 ? bt.q[i / plane] : bt.q[i]
                    t.q[i] = clamp(requantize(t.q[i] &* bv, m), lo, hi)
                }
                env[Int(dst)] = t
            case .concat(let dst, let srcs, let ms, let lo, let hi):
                let (oc, oh, ow) = shape(dst)
                var t = Tensor3(c: oc, h: oh, w: ow)
                var base = 0
                for (s, m) in zip(srcs, ms) {
                    let x = env[Int(s)]!
                    for i in x.q.indices { t.q[base + i] = m.map { clamp(requantize(x.q[i], $0), lo, hi) } ?? x.q[i] }
                    base += x.q.count
                }
                env[Int(dst)] = t
            case .sliceChannels(let dst, let src, let start):
                let x = env[Int(src)]!
                let (oc, _, _) = shape(dst)
                var t = Tensor3(c: oc, h: x.h, w: x.w)
                let plane = x.h * x.w
                t.q = Array(x.q[(Int(start) * plane)..<((Int(start) + oc) * plane)])
                env[Int(dst)] = t
            case .depthToSpace(let dst, let src, let bs, let crd):
                let x = env[Int(src)]!
                let b = Int(bs), oc = x.c / (b * b)
                var t = Tensor3(c: oc, h: x.h * b, w: x.w * b)
                for c in 0..<oc { for y in 0..<t.h { for xo in 0..<t.w {
                    let i = y % b, j = xo % b
                    let ci = crd ? c * b * b + i * b + j : (i * b + j) * oc + c
                    t.q[(c * t.h + y) * t.w + xo] = x.at(ci, y / b, xo / b)
                } } }
                env[Int(dst)] = t
            case .reduceMean(let dst, let src, let m, let lo, let hi):
                let x = env[Int(src)]!
                var t = Tensor3(c: x.c, h: 1, w: 1)
                let plane = x.h * x.w
                for c in 0..<x.c {
                    var sum: Int64 = 0
                    for i in 0..<plane { sum += Int64(x.q[c * plane + i]) }
                    let mean = fixedPointMean(sum: sum, count: plane)
                    t.q[c] = clamp(requantize(mean, m), lo, hi)
                }
                env[Int(dst)] = t
            case .sqrt(let dst, let src, let m, let lo, let hi):
                var t = env[Int(src)]!
                for i in t.q.indices { t.q[i] = clamp(Int32(clamping: roundedSquareRoot(Int64(max(0, requantize(t.q[i], m))))), lo, hi) }
                env[Int(dst)] = t
            case .lookup(let dst, let src, let tableID):
                var t = env[Int(src)]!
                let table = program.constants[Int(tableID)].values
                let qmin = program.values[Int(src)].qmin
                for i in t.q.indices { t.q[i] = table[Int(t.q[i] - qmin)] }
                env[Int(dst)] = t
            case .outputPixels(let src):
                let x = env[Int(src)]!
                var img = RGBImage(width: x.w, height: x.h)
                for c in 0..<3 { for y in 0..<x.h { for xo in 0..<x.w { img[xo, y, order[c]] = UInt8(clamping: x.at(c, y, xo)) } } }
                result = img
            }
            if keepValues, let d = ins.destination { kept[Int(d)] = env[Int(d)] }
        }
        return (result, kept)
    }
}
