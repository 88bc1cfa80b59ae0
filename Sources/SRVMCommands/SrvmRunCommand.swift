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
        taken, the kernel set and the thread count are printed to standard error.

        --kernels and --threads change only the speed: every kernel set and thread count \
        computes the same pixels (reference is the scalar oracle the others are tested against).

        Examples:
          srvm run xlsr_x3.qsr in.png -o out.png
          srvm run xlsr_x3.qsr in.png -o ref.png --kernels reference --threads 1
          srvm bench xlsr_x3.qsr --size 640x360     # time it instead
        """)

    @Argument(help: "Compiled program (.qsr).")
    var model: String

    @Argument(help: "Input PNG image.")
    var input: String

    @Option(name: .shortAndLong, help: "Output PNG (default: <input>_x<scale>.png beside the input).")
    var output: String?

    @OptionGroup var vm: VMOptions

    func run() throws {
        let file = try wrapVM { try ProgramFile(path: model) }
        let vm = try self.vm.machine(for: file.program)
        let image = try readPNG(input)
        let start = Date()
        let result = try wrapVM { try vm.run(image) }
        let seconds = Date().timeIntervalSince(start)
        let out = output ?? ((input as NSString).deletingPathExtension + "_x\(file.program.metadata.scale).png")
        try writePNG(result, to: out)
        let how = "kernels \(vm.kernels.rawValue), \(vm.threads) thread\(vm.threads == 1 ? "" : "s")"
        FileHandle.standardError.write(Data("\(input) \(image.width)x\(image.height) -> \(out) \(result.width)x\(result.height) in \(Int(seconds * 1000)) ms (\(how))\n".utf8))
    }
}
