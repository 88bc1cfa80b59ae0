// MATLAB-compatible bicubic resize (`imresize(A, scale, 'bicubic')`, antialiasing on).
//
// The SR benchmarks (Set5, Set14, B100, Urban100, DIV2K "LR_bicubic") were made with MATLAB's
// `imresize(HR_modcrop, 1/s, 'bicubic')` on uint8 images, so reproducing it bit for bit lets us
// regenerate LR inputs from any HR folder. The algorithm, per axis:
//   - kernel: Keys cubic with a = -0.5, support [-2, 2];
//   - when shrinking (scale < 1) the kernel is stretched for antialiasing: h(x) = scale * k(scale * x),
//     support width 4 / scale;
//   - output length: ceil(in * scale) when a scale is given; scale = out / in when a size is given;
//   - output pixel x (1-based) samples input coordinate u = x / scale + 0.5 * (1 - 1 / scale);
//   - taps: left = floor(u - width / 2), P = ceil(width) + 2 taps left, left+1, ..., left+P-1;
//   - weights h(u - index), each output's weights divided by their sum;
//   - out-of-range indices mirrored symmetrically (sequence 1..n, n..1 repeated), tap columns that
//     are zero for every output dropped;
//   - the axis with the smaller scale is resized first (a stable sort of the scales: for equal
//     scales rows, i.e. the height, first);
//   - for uint8 images each pass accumulates in Double (taps in order) and stores uint8,
//     rounded to nearest and saturated to 0...255, so the second pass reads the rounded first pass.

import Foundation

/// Per-axis resampling table: for each output position, `taps` (input index, weight) pairs.
/// Indices are 0-based and already mirrored into 0..<inLength.
public struct ResizeContributions: Sendable {
    public let inLength: Int
    public let outLength: Int
    public let taps: Int
    /// outLength * taps, row-major by output position.
    public let weights: [Double]
    /// outLength * taps, row-major by output position.
    public let indices: [Int]

    /// MATLAB's `contributions(in_length, out_length, scale, @cubic, 4, true)`.
    public init(inLength: Int, outLength: Int, scale: Double, antialiasing: Bool = true) {
        precondition(inLength > 0 && outLength > 0 && scale > 0)
        let shrink = scale < 1 && antialiasing
        let kernelWidth = shrink ? 4.0 / scale : 4.0
        let p = Int(kernelWidth.rounded(.up)) + 2

        var w = [Double](repeating: 0, count: outLength * p)
        var idx = [Int](repeating: 0, count: outLength * p)
        for o in 0..<outLength {
            let x = Double(o + 1)
            let u = x / scale + 0.5 * (1 - 1 / scale)
            let left = Int((u - kernelWidth / 2).rounded(.down))
            var sum = 0.0
            for k in 0..<p {
                let j = left + k                     // 1-based input index, maybe out of range
                let d = u - Double(j)
                let v = shrink ? scale * matlabCubic(scale * d) : matlabCubic(d)
                w[o * p + k] = v
                sum += v
                idx[o * p + k] = mirrorIndex(j - 1, inLength)
            }
            for k in 0..<p { w[o * p + k] /= sum }
        }

        // Drop tap columns that are zero for every output (MATLAB's `kill`).
        var keep: [Int] = []
        for k in 0..<p {
            var any = false
            for o in 0..<outLength where w[o * p + k] != 0 { any = true; break }
            if any { keep.append(k) }
        }
        let q = keep.count
        var w2 = [Double](repeating: 0, count: outLength * q)
        var i2 = [Int](repeating: 0, count: outLength * q)
        for o in 0..<outLength {
            for (n, k) in keep.enumerated() {
                w2[o * q + n] = w[o * p + k]
                i2[o * q + n] = idx[o * p + k]
            }
        }
        self.inLength = inLength
        self.outLength = outLength
        self.taps = q
        self.weights = w2
        self.indices = i2
    }
}

/// Keys' cubic convolution kernel with a = -0.5, written as MATLAB's `cubic`.
@inline(__always)
func matlabCubic(_ x: Double) -> Double {
    let ax = abs(x)
    let ax2 = ax * ax
    let ax3 = ax2 * ax
    if ax <= 1 { return 1.5 * ax3 - 2.5 * ax2 + 1 }
    if ax <= 2 { return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2 }
    return 0
}

/// Symmetric mirroring of a 0-based index into 0..<n: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
@inline(__always)
func mirrorIndex(_ i: Int, _ n: Int) -> Int {
    let period = 2 * n
    var m = i % period
    if m < 0 { m += period }
    return m < n ? m : period - 1 - m
}

/// Round to nearest (halves up, as values are non-negative) and saturate, as MATLAB stores uint8.
@inline(__always)
func saturateUInt8(_ v: Double) -> UInt8 {
    if !(v > 0) { return 0 }
    if v >= 255 { return 255 }
    return UInt8(v + 0.5)
}

/// MATLAB's output length for a scale factor: ceil(in * scale).
public func matlabOutputLength(_ inLength: Int, scale: Double) -> Int {
    Int((Double(inLength) * scale).rounded(.up))
}

/// `imresize(image, scale, 'bicubic')` for a uint8 RGB image (same scale on both axes).
public func matlabImresize(_ image: RGBImage, scale: Double) -> RGBImage {
    precondition(scale > 0, "matlabImresize: scale must be positive")
    return matlabImresize(image,
                          outputWidth: matlabOutputLength(image.width, scale: scale),
                          outputHeight: matlabOutputLength(image.height, scale: scale),
                          scaleX: scale, scaleY: scale)
}

/// `imresize(image, [outputHeight outputWidth], 'bicubic')`: the scale of each axis is out / in.
public func matlabImresize(_ image: RGBImage, outputWidth: Int, outputHeight: Int) -> RGBImage {
    matlabImresize(image, outputWidth: outputWidth, outputHeight: outputHeight,
                   scaleX: Double(outputWidth) / Double(image.width),
                   scaleY: Double(outputHeight) / Double(image.height))
}

/// The general form: explicit output size and per-axis scales (as MATLAB carries both).
public func matlabImresize(_ image: RGBImage, outputWidth: Int, outputHeight: Int,
                           scaleX: Double, scaleY: Double) -> RGBImage {
    precondition(image.width > 0 && image.height > 0 && outputWidth > 0 && outputHeight > 0)
    let rows = ResizeContributions(inLength: image.height, outLength: outputHeight, scale: scaleY)
    let cols = ResizeContributions(inLength: image.width, outLength: outputWidth, scale: scaleX)
    // Stable sort of (scaleY, scaleX): rows first unless the width has the strictly smaller scale.
    if scaleX < scaleY {
        let t = resizeAlongWidth(image, cols)
        return resizeAlongHeight(t, rows)
    } else {
        let t = resizeAlongHeight(image, rows)
        return resizeAlongWidth(t, cols)
    }
}

/// One vertical pass: each output row is a weighted sum of whole input rows.
func resizeAlongHeight(_ image: RGBImage, _ c: ResizeContributions) -> RGBImage {
    precondition(c.inLength == image.height)
    let rowLen = image.width * 3
    let outH = c.outLength
    let taps = c.taps
    var out = [UInt8](repeating: 0, count: rowLen * outH)
    var acc = [Double](repeating: 0, count: rowLen)
    image.pixels.withUnsafeBufferPointer { srcBuf in
        c.weights.withUnsafeBufferPointer { wBuf in
            c.indices.withUnsafeBufferPointer { iBuf in
                out.withUnsafeMutableBufferPointer { dstBuf in
                    acc.withUnsafeMutableBufferPointer { accBuf in
                        let src = srcBuf.baseAddress!
                        let wp = wBuf.baseAddress!
                        let ip = iBuf.baseAddress!
                        let dst = dstBuf.baseAddress!
                        let a = accBuf.baseAddress!
                        for y in 0..<outH {
                            a.update(repeating: 0, count: rowLen)
                            for k in 0..<taps {
                                let wk = wp[y * taps + k]
                                let row = src + ip[y * taps + k] * rowLen
                                var i = 0
                                while i < rowLen {
                                    a[i] += wk * Double(row[i])
                                    i += 1
                                }
                            }
                            let d = dst + y * rowLen
                            var i = 0
                            while i < rowLen {
                                d[i] = saturateUInt8(a[i])
                                i += 1
                            }
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: image.width, height: outH, pixels: out)
}

/// One horizontal pass: each output pixel is a weighted sum of pixels of the same row.
func resizeAlongWidth(_ image: RGBImage, _ c: ResizeContributions) -> RGBImage {
    precondition(c.inLength == image.width)
    let inRow = image.width * 3
    let outW = c.outLength
    let outRow = outW * 3
    let h = image.height
    let taps = c.taps
    var out = [UInt8](repeating: 0, count: outRow * h)
    image.pixels.withUnsafeBufferPointer { srcBuf in
        c.weights.withUnsafeBufferPointer { wBuf in
            c.indices.withUnsafeBufferPointer { iBuf in
                out.withUnsafeMutableBufferPointer { dstBuf in
                    let src = srcBuf.baseAddress!
                    let wp = wBuf.baseAddress!
                    let ip = iBuf.baseAddress!
                    let dst = dstBuf.baseAddress!
                    for y in 0..<h {
                        let row = src + y * inRow
                        let d = dst + y * outRow
                        for x in 0..<outW {
                            var r = 0.0, g = 0.0, b = 0.0
                            let base = x * taps
                            for k in 0..<taps {
                                let wk = wp[base + k]
                                let p = row + ip[base + k] * 3
                                r += wk * Double(p[0])
                                g += wk * Double(p[1])
                                b += wk * Double(p[2])
                            }
                            d[x * 3] = saturateUInt8(r)
                            d[x * 3 + 1] = saturateUInt8(g)
                            d[x * 3 + 2] = saturateUInt8(b)
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: outW, height: h, pixels: out)
}

// MARK: - Float planes

/// The same resampling on one Double plane (row-major, `width * height` values), without any
/// intermediate rounding: what MATLAB's imresize does on a double image.
public func matlabImresizePlane(_ plane: [Double], width: Int, height: Int,
                                outputWidth: Int, outputHeight: Int,
                                scaleX: Double, scaleY: Double) -> [Double] {
    precondition(plane.count == width * height)
    let rows = ResizeContributions(inLength: height, outLength: outputHeight, scale: scaleY)
    let cols = ResizeContributions(inLength: width, outLength: outputWidth, scale: scaleX)
    if scaleX < scaleY {
        let t = planeAlongWidth(plane, width: width, height: height, cols)
        return planeAlongHeight(t, width: outputWidth, rows)
    } else {
        let t = planeAlongHeight(plane, width: width, rows)
        return planeAlongWidth(t, width: width, height: outputHeight, cols)
    }
}

/// `imresize(plane, scale, 'bicubic')` on a Double plane; returns the plane and its size.
public func matlabImresizePlane(_ plane: [Double], width: Int, height: Int,
                                scale: Double) -> (plane: [Double], width: Int, height: Int) {
    let ow = matlabOutputLength(width, scale: scale)
    let oh = matlabOutputLength(height, scale: scale)
    let p = matlabImresizePlane(plane, width: width, height: height, outputWidth: ow,
                                outputHeight: oh, scaleX: scale, scaleY: scale)
    return (p, ow, oh)
}

func planeAlongHeight(_ src: [Double], width: Int, _ c: ResizeContributions) -> [Double] {
    var out = [Double](repeating: 0, count: width * c.outLength)
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { d in
            for y in 0..<c.outLength {
                let drow = d.baseAddress! + y * width
                for k in 0..<c.taps {
                    let wk = c.weights[y * c.taps + k]
                    let srow = s.baseAddress! + c.indices[y * c.taps + k] * width
                    for x in 0..<width { drow[x] += wk * srow[x] }
                }
            }
        }
    }
    return out
}

func planeAlongWidth(_ src: [Double], width: Int, height: Int, _ c: ResizeContributions) -> [Double] {
    let ow = c.outLength
    var out = [Double](repeating: 0, count: ow * height)
    src.withUnsafeBufferPointer { s in
        out.withUnsafeMutableBufferPointer { d in
            c.weights.withUnsafeBufferPointer { w in
                c.indices.withUnsafeBufferPointer { ix in
                    for y in 0..<height {
                        let srow = s.baseAddress! + y * width
                        for x in 0..<ow {
                            var acc = 0.0
                            for k in 0..<c.taps { acc += w[x * c.taps + k] * srow[ix[x * c.taps + k]] }
                            d[y * ow + x] = acc
                        }
                    }
                }
            }
        }
    }
    return out
}

// MARK: - SR dataset helpers

extension RGBImage {
    /// MATLAB's `modcrop`: the top-left floor(width/s)*s x floor(height/s)*s region.
    public func modcropped(_ scale: Int) -> RGBImage {
        precondition(scale > 0)
        return cropped(width: width / scale * scale, height: height / scale * scale)
    }
}

/// The benchmark LR image for an HR image: `imresize(modcrop(HR, s), 1/s, 'bicubic')`.
public func bicubicDownscale(_ hr: RGBImage, scale: Int) -> RGBImage {
    matlabImresize(hr.modcropped(scale), scale: 1.0 / Double(scale))
}
