import Foundation
import XCTest
import SRGraph
import SRImage
import FloatEngine
import ONNXImport
import SRQuant
import QSRFormat
import SRVM

/// The shared models and datasets next to the checkout, and a PSNR-Y harness that follows
/// SRCommands' evaluation conventions (LR from LR_bicubic/X<s>, HR cropped, s pixels shaved).
enum QuantHarness {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")

    struct Model {
        var file: String, scale: Int, bgr: Bool, range: Float
        static let edsr = Model(file: "edsr_r8f64_x2_krasserm.onnx", scale: 2, bgr: false, range: 255)
        static let xlsr = Model(file: "xlsr_x3_cxzhou95.onnx", scale: 3, bgr: true, range: 1)
        static let imdn = Model(file: "imdn_x4_zheng222.onnx", scale: 4, bgr: false, range: 1)
        static let all = [edsr, xlsr, imdn]
    }

    struct Pair { var hr: RGBImage; var lr: RGBImage }

    static func requireShared() throws {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("models").path) else {
            throw XCTSkip("../shared not found at \(root.path)")
        }
    }

    static func graph(_ m: Model) throws -> Graph {
        try requireShared()
        return try ONNXImporter.load(path: root.appendingPathComponent("models/\(m.file)").path)
    }

    nonisolated(unsafe) static var datasetCache: [String: [Pair]] = [:]

    static func dataset(_ set: String, scale: Int) throws -> [Pair] {
        try requireShared()
        let key = "\(set)x\(scale)"
        if let d = datasetCache[key] { return d }
        let dir = root.appendingPathComponent("datasets/\(set)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("HR").path)
            .filter { $0.hasSuffix(".png") }.sorted()
        let pairs = try names.map { n in
            Pair(hr: try PNG.read(path: dir.appendingPathComponent("HR/\(n)").path),
                 lr: try PNG.read(path: dir.appendingPathComponent("LR_bicubic/X\(scale)/\(n)").path))
        }
        datasetCache[key] = pairs
        return pairs
    }

    static func tensor(_ image: RGBImage, _ m: Model) -> Tensor {
        let plane = image.width * image.height
        var data = [Float](repeating: 0, count: 3 * plane)
        let order = m.bgr ? [2, 1, 0] : [0, 1, 2]
        for c in 0..<3 { for i in 0..<plane { data[c * plane + i] = Float(image.pixels[i * 3 + order[c]]) * m.range / 255 } }
        return Tensor(shape: [1, 3, image.height, image.width], floats: data)
    }

    static func image(_ t: Tensor, _ m: Model) -> RGBImage {
        let h = t.shape[2], w = t.shape[3], plane = h * w
        var px = [UInt8](repeating: 0, count: plane * 3)
        let order = m.bgr ? [2, 1, 0] : [0, 1, 2]
        for c in 0..<3 {
            for i in 0..<plane {
                let v = (t.floats[c * plane + i] * 255 / m.range).rounded()
                px[i * 3 + order[c]] = v.isNaN ? 0 : UInt8(max(0, min(255, v)))
            }
        }
        return RGBImage(width: w, height: h, pixels: px)
    }

    /// Mean PSNR-Y of the graph over a set.
    static func psnr(_ g: Graph, _ m: Model, _ set: String) throws -> Double {
        let values = try psnrs(g, m, try dataset(set, scale: m.scale))
        return values.reduce(0, +) / Double(values.count)
    }

    /// The pair with its LR cropped to at most `size`×`size` from the top left (the HR follows:
    /// PSNR compares against `SRPair.croppedHR`).
    static func cropped(_ p: Pair, _ size: Int?) -> Pair {
        guard let c = size else { return p }
        return Pair(hr: p.hr, lr: p.lr.cropped(width: min(c, p.lr.width), height: min(c, p.lr.height)))
    }

    /// The integer program of a quantized graph, as `srcc compile` lowers it.
    static func program(_ q: Graph, _ m: Model) throws -> Program {
        let md = ModelMetadata(modelName: m.file, scale: m.scale, channelOrder: m.bgr ? .bgr : .rgb, valueRange: Int(m.range),
                               inputName: q.inputs[0].name, outputName: q.outputs[0].name, sourceBytes: 0)
        return try lowerToProgram(q, metadata: md)
    }

    /// PSNR-Y of the integer program run by srvm (every kernel set computes its reference
    /// kernels' pixels, see CompiledModelTests) on each pair, LR cropped to at most `crop`×`crop`
    /// from the top left when given; images run in parallel, one VM thread each.
    static func integerPSNRs(_ program: Program, _ m: Model, _ pairs: [Pair], crop: Int? = nil) throws -> [Double] {
        let jobs = pairs.map { cropped($0, crop) }
        var out = [Result<Double, Error>](repeating: .success(0), count: jobs.count)
        out.withUnsafeMutableBufferPointer { o in
            nonisolated(unsafe) let base = o.baseAddress!   // each iteration writes its own element
            DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
                let p = jobs[i]
                base[i] = Result { psnrY(try VirtualMachine(program: program, threads: 1).run(p.lr), SRPair.croppedHR(p.hr, lr: p.lr, scale: m.scale), shave: m.scale) }
            }
        }
        return try out.map { try $0.get() }
    }

    /// PSNR-Y of a graph on each pair (cropped as `integerPSNRs`).
    static func psnrs(_ g: Graph, _ m: Model, _ pairs: [Pair], crop: Int? = nil) throws -> [Double] {
        let engine = try FloatEngine(graph: g)
        return try pairs.map { cropped($0, crop) }.map { p in
            psnrY(image(try engine.run(tensor(p.lr, m)), m), SRPair.croppedHR(p.hr, lr: p.lr, scale: m.scale), shave: m.scale)
        }
    }

    static func options(_ m: Model, bits: Int, calibrateOn set: String) throws -> QuantizationOptions {
        var o = QuantizationOptions()
        o.weightBits = bits; o.activationBits = bits; o.edgeBits = 8
        o.inputRange = m.range
        o.calibration = try dataset(set, scale: m.scale).map { tensor($0.lr, m) }
        return o
    }

    static func quantize(_ g: Graph, _ o: QuantizationOptions, verbose: Bool = false) throws -> Graph {
        try QuantizationPipeline.run(g, options: o, log: { if verbose { print($0) } })
    }
}
