import ArgumentParser
import Foundation
import SRImage
import SRVMCommands

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Upscale a PNG with a float model on srcc's fp32 engine.",
        discussion: """
        The input may be any PNG (gray, palette, 16-bit, interlaced); it is converted to 8-bit RGB. \
        The output is 8-bit RGB, written atomically (no partial file on failure).

        Example: srcc run xlsr_x3.onnx in.png -o out.png --channels bgr
        """)

    @Argument(help: "Model file (.onnx).")
    var model: String

    @Argument(help: "Input PNG image.")
    var input: String

    @Option(name: .shortAndLong, help: "Output PNG (default: <input>_x<scale>.png beside the input).")
    var output: String?

    @OptionGroup var convention: ConventionOptions

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func run() throws {
        let graph = try loadGraph(path: model)
        let upscaler = try Upscaler(graph: graph, convention: convention.convention, threads: threads)
        let image = try readPNG(input)
        let start = Date()
        let result = try upscaler.upscale(image)
        let out = output ?? ((input as NSString).deletingPathExtension + "_x\(upscaler.scale).png")
        try writePNG(result, to: out)
        let ms = Int(Date().timeIntervalSince(start) * 1000)
        FileHandle.standardError.write(Data("\(input) \(image.width)x\(image.height) -> \(out) \(result.width)x\(result.height) in \(ms) ms\n".utf8))
    }
}
