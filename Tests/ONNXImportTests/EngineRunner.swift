import FloatEngine
import SRGraph

/// Runs an imported graph on the float engine (single-threaded: node tests are tiny).
enum EngineRunner {
    static func run(_ graph: Graph, _ inputs: [String: Tensor]) throws -> [String: Tensor] {
        try FloatEngine(graph: graph, threads: 1).run(inputs)
    }
}
