import ArgumentParser

/// `srvm`: the integer VM that runs compiled .qsr programs.
public struct SrvmCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "srvm",
        abstract: "Run compiled super-resolution programs (.qsr) with integer kernels.",
        discussion: """
        The .qsr format and its commands (srvm run MODEL.qsr IN.png, srvm info MODEL.qsr) arrive with the quantizer (SPEC.md section 5).

        To upscale with a float model today: srcc run MODEL.onnx IN.png -o OUT.png
        """)
    public init() {}
}
