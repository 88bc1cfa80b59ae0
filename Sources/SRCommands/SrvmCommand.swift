import ArgumentParser

/// `srvm`: the integer VM that runs compiled .qsr programs.
public struct SrvmCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "srvm",
        abstract: "Run compiled super-resolution programs (.qsr) with integer kernels.",
        discussion: """
        The .qsr format and its commands (srvm run MODEL.qsr IN.png, srvm info MODEL.qsr) arrive
        with the quantizer (see SPEC.md and the project's issues). To upscale with a float
        model today, use: srcc run MODEL.onnx IN.png -o OUT.png
        """)
    public init() {}
}
