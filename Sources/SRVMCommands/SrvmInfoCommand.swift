import ArgumentParser
import Foundation
import SRVM

struct SrvmInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a compiled program (.qsr): metadata, instructions, constants, memory, compression.",
        discussion: """
        Prints the model's metadata (scale, channel order, value range, notes), the number of \
        instructions by mnemonic, the constant bytes by kind (int4, int8, int32, uint8), the \
        parameter count (conv weights and biases), the number of values and activation slots, \
        the peak activation memory (the sum of the slot buffers srvm allocates) for an input \
        of --size, and how much smaller the .qsr file is than the float model it came from.

        The file is validated completely first; a corrupt file is an error.

        Examples:
          srvm info xlsr_x3.qsr
          srvm info xlsr_x3.qsr --size 1920x1080
        """)

    @Argument(help: "Compiled program (.qsr).")
    var model: String

    @Option(help: "Input size WxH for the peak activation memory.")
    var size: String = "256x256"

    func validate() throws {
        guard parseSize(size) != nil else { throw ValidationError("--size must be WxH with positive integers, e.g. 256x256") }
    }

    func run() throws {
        let (w, h) = parseSize(size)!
        let file = try wrapVM { try ProgramFile(path: model) }
        let text = try wrapVM { try programInfo(file.program, fileBytes: file.byteCount, width: w, height: h) }
        print("file: \(model) (\(file.byteCount) bytes)")
        print(text, terminator: "")
    }
}
