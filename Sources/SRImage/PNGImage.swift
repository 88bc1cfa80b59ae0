/// A fully decoded PNG at the file's own precision (the decoder's output before any reduction
/// to 8-bit RGB). Samples are interleaved, rows top to bottom, after:
/// - palette expansion (colour type 3 becomes 8-bit RGB, or RGBA when the file has tRNS);
/// - low-bit gray expansion to the 8-bit scale (v * 255 / (2^d - 1)), as libpng and Pillow do.
/// So `bitDepth` is 16 for 16-bit files and 8 for everything else.
public struct PNGImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA.
    public let channels: Int
    /// 8 or 16: the scale of `samples` (max value 255 or 65535).
    public let bitDepth: Int
    /// width * height * channels samples.
    public var samples: [UInt16]
    /// IHDR colour type of the file (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA).
    public let colorType: UInt8
    /// IHDR bit depth of the file (1, 2, 4, 8 or 16).
    public let sourceBitDepth: Int
    public let interlaced: Bool
    /// For gray / RGB files with a tRNS chunk: the one colour that is fully transparent, given
    /// on the same scale as `samples` (1 value for gray, 3 for RGB). Per the spec, bits above
    /// the file's bit depth are masked off. Palette transparency is expanded into an alpha
    /// channel instead, and is never reported here.
    public let transparentColor: [UInt16]?

    public init(width: Int, height: Int, channels: Int, bitDepth: Int, samples: [UInt16],
                colorType: UInt8, sourceBitDepth: Int, interlaced: Bool, transparentColor: [UInt16]?) {
        precondition(samples.count == width * height * channels, "PNGImage: sample count mismatch")
        self.width = width
        self.height = height
        self.channels = channels
        self.bitDepth = bitDepth
        self.samples = samples
        self.colorType = colorType
        self.sourceBitDepth = sourceBitDepth
        self.interlaced = interlaced
        self.transparentColor = transparentColor
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }
    public var maxSample: UInt16 { bitDepth == 16 ? 0xFFFF : 0xFF }

    /// The image with `transparentColor` turned into an alpha channel (pixels equal to it get
    /// alpha 0, all others the maximum). Returns `self` when there is no transparent colour.
    public func withTransparencyAsAlpha() -> PNGImage {
        guard let key = transparentColor, !hasAlpha, key.count == channels else { return self }
        let n = width * height, c = channels, oc = channels + 1
        var out = [UInt16](repeating: 0, count: n * oc)
        let opaque = maxSample
        samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<n {
                    var same = true
                    for k in 0..<c {
                        let v = src[p * c + k]
                        dst[p * oc + k] = v
                        if v != key[k] { same = false }
                    }
                    dst[p * oc + c] = same ? 0 : opaque
                }
            }
        }
        return PNGImage(width: width, height: height, channels: oc, bitDepth: bitDepth, samples: out,
                        colorType: colorType, sourceBitDepth: sourceBitDepth, interlaced: interlaced,
                        transparentColor: nil)
    }

    /// Reduction to the pipeline's 8-bit RGB. The rule (shared with `PNG.decodeRGB`):
    /// - gray is replicated to R = G = B;
    /// - alpha (and tRNS transparency) is dropped, never composited onto a background;
    /// - 16-bit samples keep their high byte (v >> 8). This is what Pillow does when it opens
    ///   16-bit RGB / RGBA / gray+alpha files (its "RGB;16B"-style unpackers take the first,
    ///   most significant, byte of each sample). Pillow keeps 16-bit gray as mode "I;16" and its
    ///   convert("RGB") then clamps values to 255 instead; we deliberately use v >> 8 for 16-bit
    ///   gray too, so every 16-bit file is reduced the same, meaningful way.
    public func rgbImage() -> RGBImage {
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        let shift: UInt16 = bitDepth == 16 ? 8 : 0
        let c = channels
        samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if c >= 3 {
                    for p in 0..<n {
                        dst[p * 3] = UInt8(truncatingIfNeeded: src[p * c] >> shift)
                        dst[p * 3 + 1] = UInt8(truncatingIfNeeded: src[p * c + 1] >> shift)
                        dst[p * 3 + 2] = UInt8(truncatingIfNeeded: src[p * c + 2] >> shift)
                    }
                } else {
                    for p in 0..<n {
                        let g = UInt8(truncatingIfNeeded: src[p * c] >> shift)
                        dst[p * 3] = g
                        dst[p * 3 + 1] = g
                        dst[p * 3 + 2] = g
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
