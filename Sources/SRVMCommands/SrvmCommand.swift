import ArgumentParser

/// `srvm`: the integer VM that runs compiled .qsr programs. Lives in a library so tests call it
/// directly; it links no ONNX, protobuf-c or quantizer code (a test checks the package graph).
public struct SrvmCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "srvm",
        abstract: "Run compiled super-resolution programs (.qsr) with integer kernels.",
        discussion: """
        A .qsr file is a quantized model compiled by srcc: fixed-point instructions, int4/int8 \
        weights and their requantization parameters (SPEC.md section 5). srvm validates the \
        whole file before using it.

        Typical use:
          srvm info model.qsr                   # metadata, sizes, memory, compression
          srvm run model.qsr in.png -o out.png  # upscale with the integer kernels
          srvm bench model.qsr --size 256x256   # time it: ms, GMAC/s, time per instruction kind

        run and bench take --kernels (reference, best, portable, avx2) and --threads; the \
        output is the same for all of them.
        """,
        subcommands: [SrvmRunCommand.self, SrvmInfoCommand.self, SrvmBenchCommand.self, SrvmMicrobenchCommand.self])
    public init() {}
}
