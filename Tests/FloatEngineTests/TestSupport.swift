import XCTest
import SRGraph
import FloatEngine

/// Deterministic pseudo-random values (tests must not depend on the system RNG).
struct SplitMix {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 24) * 2 - 1   // uniform in [-1, 1)
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in next() * scale })
    }
}

/// A graph of the given nodes with one input `x` and one output.
func makeGraph(input shape: Shape, output: String, nodes: [Node], initializers: [String: Tensor] = [:],
               extraInputs: [ValueInfo] = []) -> Graph {
    Graph(name: "test", inputs: [ValueInfo(name: "x", shape: shape)] + extraInputs,
          outputs: [ValueInfo(name: output, shape: [])], initializers: initializers, nodes: nodes)
}

/// The kernel sets this CPU can run besides the reference (forced ones are tested too, so the
/// AVX2 path is covered on AVX-512 machines).
func fastKernelChoices() -> [KernelChoice] {
    var out: [KernelChoice] = [.best, .portable]
    for k in [KernelChoice.avx2, .avx512] where (try? FloatEngine(graph: tinyGraph(), kernels: k)) != nil { out.append(k) }
    return out
}

func tinyGraph() -> Graph {
    makeGraph(input: [.known(1)], output: "y", nodes: [Node(name: "id", op: .identity, inputs: ["x"], outputs: ["y"])])
}

/// Fast kernels sum in a different order (and in float rather than the reference's double), so
/// each output may differ by a few ulps per accumulated term: 1e-4 relative to the output scale
/// is ~1000 ulps, far above rounding noise for these short sums yet far below any indexing bug.
func assertClose(_ a: Tensor, _ b: Tensor, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
    guard a.shape == b.shape else { return }
    let scale = b.floats.map(abs).max() ?? 0
    let diff = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(diff, 1e-4 * (1 + scale), "\(message): max diff \(diff)", file: file, line: line)
}

func assertExact(_ t: Tensor, _ shape: [Int], _ values: [Float], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(t.shape, shape, file: file, line: line)
    XCTAssertEqual(t.floats, values, file: file, line: line)
}

/// Runs a single-op graph with the reference kernels.
func runOp(_ op: Op, _ inputs: [Tensor], outputs: Int = 1, kernels: KernelChoice = .reference) throws -> [Tensor] {
    var inits: [String: Tensor] = [:]
    var names = ["x"]
    for (i, t) in inputs.dropFirst().enumerated() { inits["c\(i)"] = t; names.append("c\(i)") }
    let outNames = (0..<outputs).map { "y\($0)" }
    var g = Graph(name: "op", inputs: [ValueInfo(name: "x", shape: Shape(known: inputs[0].shape))],
                  outputs: outNames.map { ValueInfo(name: $0, shape: []) }, initializers: inits,
                  nodes: [Node(name: "node", op: op, inputs: names, outputs: outNames)])
    g.metadata = [:]
    let result = try FloatEngine(graph: g, threads: 1, kernels: kernels).run(["x": inputs[0]])
    return outNames.map { result[$0]! }
}
