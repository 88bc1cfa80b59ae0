import Foundation
import SRGraph
import ONNXImport
import FloatEngine
import SRImage
import SRVM
import SRVMCommands

/// Opens a model file by its extension. Every command goes through here, so the set of
/// formats a command accepts grows in one place.
public func loadGraph(path: String) throws -> Graph {
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path): no such file") }
    switch (path as NSString).pathExtension.lowercased() {
    case "onnx": return try ONNXImporter.load(path: path)
    case "qsr": throw CLIError("\(path): a compiled program; this command needs the float model (.onnx)")
    default: throw CLIError("\(path): unknown model format (expected a .onnx file)")
    }
}

/// The upscaling factor of an SR graph: output height / input height, read from the
/// symbolic shapes ([1,3,H,W] -> [1,3,s*H,s*W]).
public func upscaleFactor(of graph: Graph) throws -> Int {
    guard graph.inputs.count == 1, graph.outputs.count == 1 else {
        throw CLIError("graph '\(graph.name)' has \(graph.inputs.count) inputs and \(graph.outputs.count) outputs; an SR model has one of each")
    }
    let i = graph.inputs[0].shape, o = graph.outputs[0].shape
    guard i.count == 4, o.count == 4, i[1].value == 3, o[1].value == 3 else {
        throw CLIError("graph '\(graph.name)': input \(i.text) and output \(o.text) are not [1,3,H,W] images")
    }
    // Symbolic: coefficient ratio; known sizes: integer ratio.
    if let ih = i[2].symbol, ih == o[2].symbol, o[2].divisor == 1, o[2].offset == 0, i[2].coefficient == 1 {
        return o[2].coefficient
    }
    if let a = i[2].value, let b = o[2].value, a > 0, b % a == 0 { return b / a }
    throw CLIError("graph '\(graph.name)': cannot tell the scale from \(i.text) -> \(o.text)")
}

/// Anything that turns an LR image into an SR image: a float model on the fp32 engine, or a
/// compiled program on srvm. `srcc eval` and `srcc run` take either.
public protocol ImageUpscaler {
    var scale: Int { get }
    func upscale(_ image: RGBImage) throws -> RGBImage
}

/// Opens a model for upscaling by its extension: .onnx on the float engine (with the given
/// convention), .qsr on srvm (the convention is in the file) with `kernels` (default best).
/// `threads` nil: one per core. `kernels` with a float model is an error: they are srvm's.
public func openUpscaler(path: String, convention: ModelConvention, threads: Int? = nil,
                         kernels: KernelSet? = nil) throws -> ImageUpscaler {
    if (path as NSString).pathExtension.lowercased() == "qsr" {
        return try ProgramUpscaler(path: path, kernels: kernels ?? .best, threads: threads)
    }
    if let kernels {
        throw CLIError("--kernels \(kernels.rawValue) chooses srvm's integer kernels; \(path) is not a compiled program (.qsr)")
    }
    return try Upscaler(graph: try loadGraph(path: path), convention: convention, threads: threads)
}

/// A compiled program on srvm's integer kernels.
public final class ProgramUpscaler: ImageUpscaler {
    public let file: ProgramFile
    let vm: VirtualMachine
    public var scale: Int { file.program.metadata.scale }
    public init(path: String, kernels: KernelSet = .best, threads: Int? = nil) throws {
        let file = try wrapVM { try ProgramFile(path: path) }
        self.file = file
        vm = try wrapVM { try VirtualMachine(program: file.program, kernels: kernels, threads: threads) }
    }
    public func upscale(_ image: RGBImage) throws -> RGBImage { try wrapVM { try vm.run(image) } }
}

/// Graph + engine + convention: upscales images.
public final class Upscaler: ImageUpscaler {
    public let graph: Graph
    public let scale: Int
    public let convention: ModelConvention
    let engine: FloatEngine

    public init(graph: Graph, convention: ModelConvention, threads: Int? = nil) throws {
        self.graph = graph
        self.scale = try upscaleFactor(of: graph)
        self.convention = convention
        self.engine = try FloatEngine(graph: graph, threads: threads)
    }

    public func upscale(_ image: RGBImage) throws -> RGBImage {
        let input = convention.tensor(from: image)
        let outputs = try engine.run([graph.inputs[0].name: input])
        guard let out = outputs[graph.outputs[0].name] else { throw CLIError("engine produced no output '\(graph.outputs[0].name)'") }
        return try convention.image(from: out)
    }
}
