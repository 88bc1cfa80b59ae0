import ArgumentParser
import Foundation
import SRImage
import SRVM

struct SrvmRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Upscale a PNG with a compiled program (.qsr) on srvm's integer kernels.",
        discussion: """
        The program is validated completely before it runs (a corrupt or truncated file is \
        rejected with a message naming the problem). The input may be any PNG; it is converted \
        to 8-bit RGB and fed in the channel order the program was compiled for. The output is \
        8-bit RGB, written atomically: on any error no output file is left behind. The time \
        taken is printed to standard error.

        Example:
          srvm run xlsr_x3.qsr in.png -o out.png
        """)

    @Argument(help: "Compiled program (.qsr).")
    var model: String

    @Argument(help: "Input PNG image.")
    var input: String

    @Option(name: .shortAndLong, help: "Output PNG (default: <input>_x<scale>.png beside the input).")
    var output: String?

    func run() throws {
        let file = try wrapVM { try ProgramFile(path: model) }
        let vm = try wrapVM { try VirtualMachine(program: file.program) }
        let image = try readPNG(input)
        let start = Date()
        let result = try wrapVM { try vm.run(image) }
        let seconds = Date().timeIntervalSince(start)
        let out = output ?? ((input as NSString).deletingPathExtension + "_x\(file.program.metadata.scale).png")
        do { try PNG.write(result, path: out) } catch { throw CLIError("\(out): \(error)") }
        FileHandle.standardError.write(Data("\(input) \(image.width)x\(image.height) -> \(out) \(result.width)x\(result.height) in \(Int(seconds * 1000)) ms\n".utf8))
    }
}

/// VM and format errors become user-facing CLI errors.
func wrapVM<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as VMError { throw CLIError(e.description) }
}
