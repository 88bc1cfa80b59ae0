import ArgumentParser
import SRImage
import SRGraph
import SRVMCommands

/// How a model expects pixels: channel order and value range. ONNX files do not say this,
/// so the user does (`--channels`, `--range`); compiled files will carry it as metadata.
public struct ModelConvention: Equatable, Sendable {
    public enum ChannelOrder: String, ExpressibleByArgument, CaseIterable, Sendable { case rgb, bgr }
    public enum ValueRange: String, ExpressibleByArgument, CaseIterable, Sendable {
        case unit = "1", byte = "255"
        /// Model value of a full-scale (255) pixel.
        public var fullScale: Float { self == .unit ? 1 : 255 }
    }
    public var channels: ChannelOrder
    public var range: ValueRange
    public init(channels: ChannelOrder = .rgb, range: ValueRange = .unit) {
        self.channels = channels; self.range = range
    }

    /// The image as a [1,3,H,W] float tensor in the model's convention.
    public func tensor(from image: RGBImage) -> Tensor {
        let plane = image.width * image.height
        var data = [Float](repeating: 0, count: 3 * plane)
        let scale = range.fullScale / 255
        let order = channels == .rgb ? [0, 1, 2] : [2, 1, 0]
        image.pixels.withUnsafeBufferPointer { px in
            data.withUnsafeMutableBufferPointer { out in
                for c in 0..<3 {
                    let src = order[c], base = c * plane
                    for i in 0..<plane { out[base + i] = Float(px[i * 3 + src]) * scale }
                }
            }
        }
        return Tensor(shape: [1, 3, image.height, image.width], floats: data)
    }

    /// A [1,3,H,W] model output back to pixels: scaled to 0..255, rounded to nearest, clamped.
    public func image(from tensor: Tensor) throws -> RGBImage {
        guard tensor.dtype == .float32, tensor.shape.count == 4, tensor.shape[0] == 1, tensor.shape[1] == 3 else {
            throw CLIError("model output has shape \(tensor.shape), expected [1,3,H,W]")
        }
        let h = tensor.shape[2], w = tensor.shape[3], plane = h * w
        var pixels = [UInt8](repeating: 0, count: plane * 3)
        let scale = 255 / range.fullScale
        let order = channels == .rgb ? [0, 1, 2] : [2, 1, 0]
        tensor.floats.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { out in
                for c in 0..<3 {
                    let dst = order[c], base = c * plane
                    for i in 0..<plane {
                        let v = (src[base + i] * scale).rounded()
                        out[i * 3 + dst] = v.isNaN ? 0 : UInt8(max(0, min(255, v)))
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

/// `--channels` and `--range`, shared by every command that feeds images to a model.
public struct ConventionOptions: ParsableArguments {
    @Option(help: "Channel order the model expects: rgb or bgr (XLSR's checkpoint was trained on BGR).")
    public var channels: ModelConvention.ChannelOrder = .rgb
    @Option(help: "Pixel value range the model expects: 1 (0..1) or 255 (0..255, e.g. EDSR with mean shift inside).")
    public var range: ModelConvention.ValueRange = .unit
    public init() {}
    public var convention: ModelConvention { ModelConvention(channels: channels, range: range) }
}
