import SRGraph

/// Symbolic Reshape targets -> the IR's integer targets (0 copies an input dim, -1 is inferred).
enum ReshapeLowering {
    /// nil when the output shape cannot be written with one -1 and copied dims.
    static func integerTarget(input: Shape, output: Shape) -> (shape: [Int], allowZero: Bool)? {
        if let known = output.knownValues { return (known, known.contains(0)) }
        guard !output.contains(where: { $0.value == 0 }) else { return nil }
        var target: [Int] = []
        var inferred = false
        for (i, d) in output.enumerated() {
            if let v = d.value { target.append(v) } else if i < input.count && input[i] == d { target.append(0) } else {
                guard !inferred else { return nil }
                inferred = true; target.append(-1)
            }
        }
        // Check that the IR's own rule gives back exactly this shape.
        let probe = Node(name: "probe", op: .reshape(shape: target, allowZero: false), inputs: ["x"], outputs: ["y"])
        guard let result = try? probe.op.outputShapes(of: probe, inputs: [input]), result.first == output else { return nil }
        return (target, false)
    }
}
