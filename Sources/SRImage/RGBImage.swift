/// An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B.
/// This is the one image type the SR pipeline passes around: PNG decodes to it
/// (gray and palette images are expanded, alpha is dropped), bicubic resizes it,
/// metrics compare two of them, and the engines convert it to and from tensors.
public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// width * height * 3 bytes, interleaved RGB.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage: pixel count \(pixels.count) does not match \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }

    @inlinable
    public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * 3 + c] }
        set { pixels[(y * width + x) * 3 + c] = newValue }
    }

    /// The top-left `w` x `h` region (the EDSR convention for cropping HR to LR size x scale).
    public func cropped(width w: Int, height h: Int) -> RGBImage {
        precondition(w <= width && h <= height)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for i in 0..<(w * 3) { out[y * w * 3 + i] = pixels[y * width * 3 + i] }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
