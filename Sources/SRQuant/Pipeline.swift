import SRGraph

/// A named graph-to-graph stage of the quantizer. `run` rewrites the graph in place and logs
/// its decisions through the closure; the graph it leaves passes `inferShapes()` and runs on
/// the float engine.
public struct Pass: Sendable {
    public let name: String
    public let run: @Sendable (inout Graph, QuantizationOptions, (String) -> Void) throws -> Void
    public init(name: String, run: @escaping @Sendable (inout Graph, QuantizationOptions, (String) -> Void) throws -> Void) {
        self.name = name; self.run = run
    }
}

public enum QuantizationPipeline {
    public static let passes: [Pass] = [
        Pass(name: "canonicalize", run: { g, o, log in try canonicalize(&g, options: o, log: log) }),
        Pass(name: "insert-quant", run: { g, o, log in try insertQuantize(&g, options: o, log: log) }),
        Pass(name: "calibrate", run: { g, o, log in try calibrate(&g, options: o, log: log) }),
        Pass(name: "wide-headroom", run: { g, o, log in try addWideGridHeadroom(&g, options: o, log: log) }),
        Pass(name: "mixed-precision", run: { g, o, log in try promoteSensitiveInputs(&g, options: o, log: log) }),
        Pass(name: "channel-alpha", run: { g, o, log in try choosePerChannelAlphas(&g, options: o, log: log) }),
        Pass(name: "tune-alpha", run: { g, o, log in try tuneAlpha(&g, options: o, log: log) }),
        Pass(name: "quantize-weights", run: { g, o, log in try quantizeWeights(&g, options: o, log: log) }),
        Pass(name: "odm", run: { g, o, log in try clipWeightsODM(&g, options: o, log: log) }),
        Pass(name: "round-weights", run: { g, o, log in try roundWeights(&g, options: o, log: log) }),
    ]

    public static let passNames: [String] = passes.map(\.name)

    public static func pass(named name: String) -> Pass? { passes.first { $0.name == name } }

    /// Runs the passes in order, stopping after `through` (nil: all of them).
    public static func run(_ g: Graph, options: QuantizationOptions, through: String? = nil,
                           log: (String) -> Void) throws -> Graph {
        if let through, !passNames.contains(through) {
            throw GraphError("unknown pass '\(through)'; passes: \(passNames.joined(separator: ", "))")
        }
        var graph = g
        try graph.inferShapes()
        for pass in passes {
            try pass.run(&graph, options, { log("[\(pass.name)] " + $0) })
            try graph.inferShapes()
            if pass.name == through { break }
        }
        return graph
    }
}
