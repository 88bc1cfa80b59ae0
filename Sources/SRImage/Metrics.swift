// SR quality metrics on the luma channel, following the SR literature's evaluation scripts.
//
// Convention (the one used by the SwinIR / BasicSR evaluation code, which reproduces the
// MATLAB scripts of EDSR / RCAN up to the rounding noted below):
//   - Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B in 0...255 (ITU-R BT.601,
//     the Y row of MATLAB's `rgb2ycbcr`). Here Y is computed in Double and NOT rounded.
//     (MATLAB's rgb2ycbcr on uint8 input rounds Y to an integer, and BasicSR evaluates the same
//     formula in float32; both differ from this float64 value in the last digits of the result.)
//   - `shave` pixels are removed from each of the four borders before anything else
//     (SwinIR/BasicSR `crop_border`, usually the scale factor).
//   - PSNR = 10 log10(255^2 / MSE), MSE the mean of the squared Y difference; +infinity if MSE == 0.
//   - SSIM (Wang et al. 2004, as in their ssim_index.m and the Python ports): 11x11 Gaussian
//     window, sigma 1.5, normalised to sum 1; C1 = (0.01*255)^2, C2 = (0.03*255)^2; local means,
//     variances and covariance by 'valid' filtering (only window positions fully inside the
//     shaved image, i.e. (H-10) x (W-10) values); variances as E[x^2] - mu^2 (biased, window-
//     weighted); SSIM map = ((2 mu1 mu2 + C1)(2 s12 + C2)) / ((mu1^2 + mu2^2 + C1)(s1 + s2 + C2));
//     the result is the mean of the map. All in Double.

import Foundation

/// The BT.601 luma plane (row-major, width * height values in [16, 235]) of an RGB image.
public func lumaY(_ image: RGBImage) -> [Double] {
    let n = image.width * image.height
    var y = [Double](repeating: 0, count: n)
    image.pixels.withUnsafeBufferPointer { p in
        y.withUnsafeMutableBufferPointer { out in
            for i in 0..<n {
                let r = Double(p[3 * i]), g = Double(p[3 * i + 1]), b = Double(p[3 * i + 2])
                out[i] = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
            }
        }
    }
    return y
}

/// The luma plane with `shave` pixels cut from every border; returns (plane, width, height).
func shavedLuma(_ image: RGBImage, shave: Int) -> (plane: [Double], width: Int, height: Int) {
    precondition(shave >= 0)
    let w = image.width - 2 * shave, h = image.height - 2 * shave
    precondition(w > 0 && h > 0, "shave \(shave) leaves nothing of a \(image.width)x\(image.height) image")
    let full = lumaY(image)
    var out = [Double](repeating: 0, count: w * h)
    for y in 0..<h {
        for x in 0..<w { out[y * w + x] = full[(y + shave) * image.width + x + shave] }
    }
    return (out, w, h)
}

/// PSNR in dB between the Y channels of `sr` and `hr` (same size), borders shaved.
public func psnrY(_ sr: RGBImage, _ hr: RGBImage, shave: Int) -> Double {
    precondition(sr.width == hr.width && sr.height == hr.height,
                 "psnrY: sizes differ: \(sr.width)x\(sr.height) vs \(hr.width)x\(hr.height)")
    let a = shavedLuma(sr, shave: shave).plane
    let b = shavedLuma(hr, shave: shave).plane
    var sum = 0.0
    for i in 0..<a.count {
        let d = a[i] - b[i]
        sum += d * d
    }
    let mse = sum / Double(a.count)
    if mse == 0 { return .infinity }
    return 10 * log10(255.0 * 255.0 / mse)
}

/// The normalised 1-D Gaussian (the 2-D window is its outer product).
func gaussianWindow1D(size: Int = 11, sigma: Double = 1.5) -> [Double] {
    let c = Double(size / 2)
    var g = (0..<size).map { i -> Double in
        let d = Double(i) - c
        return exp(-(d * d) / (2 * sigma * sigma))
    }
    let s = g.reduce(0, +)
    for i in 0..<size { g[i] /= s }
    return g
}

/// 'valid' separable filtering of a plane with the window g (x) g.
func filterValid(_ p: [Double], width: Int, height: Int, _ g: [Double]) -> [Double] {
    let k = g.count
    let ow = width - k + 1, oh = height - k + 1
    var tmp = [Double](repeating: 0, count: width * oh)   // vertical pass
    var out = [Double](repeating: 0, count: ow * oh)
    p.withUnsafeBufferPointer { src in
        g.withUnsafeBufferPointer { gw in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<oh {
                    let trow = t.baseAddress! + y * width
                    for j in 0..<k {
                        let wj = gw[j]
                        let srow = src.baseAddress! + (y + j) * width
                        for x in 0..<width { trow[x] += wj * srow[x] }
                    }
                }
            }
            tmp.withUnsafeBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    for y in 0..<oh {
                        let trow = t.baseAddress! + y * width
                        for x in 0..<ow {
                            var acc = 0.0
                            for j in 0..<k { acc += gw[j] * trow[x + j] }
                            o[y * ow + x] = acc
                        }
                    }
                }
            }
        }
    }
    return out
}

/// SSIM between the Y channels of `sr` and `hr` (same size), borders shaved. See the header.
public func ssimY(_ sr: RGBImage, _ hr: RGBImage, shave: Int) -> Double {
    precondition(sr.width == hr.width && sr.height == hr.height,
                 "ssimY: sizes differ: \(sr.width)x\(sr.height) vs \(hr.width)x\(hr.height)")
    let (a, w, h) = shavedLuma(sr, shave: shave)
    let b = shavedLuma(hr, shave: shave).plane
    return ssimPlane(a, b, width: w, height: h)
}

/// SSIM of two planes of values on a 0...255 scale (mean of the 'valid' SSIM map).
public func ssimPlane(_ a: [Double], _ b: [Double], width w: Int, height h: Int) -> Double {
    precondition(a.count == w * h && b.count == w * h)
    precondition(w >= 11 && h >= 11, "ssim: image \(w)x\(h) is smaller than the 11x11 window")
    let c1 = (0.01 * 255.0) * (0.01 * 255.0)
    let c2 = (0.03 * 255.0) * (0.03 * 255.0)
    let g = gaussianWindow1D()
    var aa = [Double](repeating: 0, count: a.count)
    var bb = aa, ab = aa
    for i in 0..<a.count {
        aa[i] = a[i] * a[i]
        bb[i] = b[i] * b[i]
        ab[i] = a[i] * b[i]
    }
    let mu1 = filterValid(a, width: w, height: h, g)
    let mu2 = filterValid(b, width: w, height: h, g)
    let e11 = filterValid(aa, width: w, height: h, g)
    let e22 = filterValid(bb, width: w, height: h, g)
    let e12 = filterValid(ab, width: w, height: h, g)
    var sum = 0.0
    for i in 0..<mu1.count {
        let m1 = mu1[i], m2 = mu2[i]
        let m11 = m1 * m1, m22 = m2 * m2, m12 = m1 * m2
        let s1 = e11[i] - m11, s2 = e22[i] - m22, s12 = e12[i] - m12
        sum += ((2 * m12 + c1) * (2 * s12 + c2)) / ((m11 + m22 + c1) * (s1 + s2 + c2))
    }
    return sum / Double(mu1.count)
}

/// PSNR-Y and SSIM-Y of one SR result against its HR image.
public struct SRScore: Sendable, Equatable {
    public var psnr: Double
    public var ssim: Double
    public init(psnr: Double, ssim: Double) { self.psnr = psnr; self.ssim = ssim }
}

/// An SR output and its ground truth, HR cropped top-left to the SR size (the EDSR/RCAN/SwinIR
/// convention: HR is cut to LR size * scale).
public struct SRPair: Sendable {
    public let sr: RGBImage
    public let hr: RGBImage

    /// `hr` may be larger than `sr` (the benchmark HR is not mod-cropped); it is cropped to `sr`'s size.
    public init(sr: RGBImage, hr: RGBImage) {
        precondition(hr.width >= sr.width && hr.height >= sr.height,
                     "SRPair: HR \(hr.width)x\(hr.height) is smaller than SR \(sr.width)x\(sr.height)")
        self.sr = sr
        self.hr = (hr.width == sr.width && hr.height == sr.height)
            ? hr : hr.cropped(width: sr.width, height: sr.height)
    }

    /// HR cropped to `lr` size * `scale`, top-left.
    public static func croppedHR(_ hr: RGBImage, lr: RGBImage, scale: Int) -> RGBImage {
        hr.cropped(width: lr.width * scale, height: lr.height * scale)
    }

    public func score(shave: Int) -> SRScore {
        SRScore(psnr: psnrY(sr, hr, shave: shave), ssim: ssimY(sr, hr, shave: shave))
    }
}
