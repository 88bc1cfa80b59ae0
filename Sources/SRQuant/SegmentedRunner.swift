import SRGraph
import FloatEngine

/// Runs a graph over a fixed set of inputs one segment of nodes at a time, keeping for each
/// input only the frontier: the values computed so far that later nodes (or the outputs)
/// still read. Passes that change a node and then need values downstream of it (round-weights
/// rounds conv k and then needs conv k+1's input) advance segment by segment instead of
/// re-running the network from its input for every node: the whole network runs once.
/// The graph may change between calls, but only at nodes at or after the current position.
struct SegmentedRunner {
    /// Index of the first node not run yet.
    private(set) var position = 0
    /// Per input: the frontier values by name.
    private(set) var states: [[String: Tensor]]
    let threads: Int?

    init(graph: Graph, inputs: [Tensor], threads: Int?) {
        let name = graph.inputs[0].name
        states = inputs.map { [name: $0] }
        self.threads = threads
    }

    /// Runs nodes position..<end of `graph`; afterwards the states hold the values produced
    /// before `end` that nodes from `end` on read, or that are graph outputs.
    mutating func advance(_ graph: Graph, to end: Int) throws {
        precondition(end >= position && end <= graph.nodes.count)
        guard end > position else { return }
        var laterReads = Set(graph.outputs.map(\.name))
        for n in graph.nodes[end...] { laterReads.formUnion(n.inputs.filter { !$0.isEmpty }) }
        let available = Set(states.first?.keys.map { $0 } ?? [])
        var produced: [String] = []
        for n in graph.nodes[position..<end] { produced += n.outputs.filter(laterReads.contains) }

        if !produced.isEmpty {
            var segment = graph
            segment.nodes = Array(graph.nodes[position..<end])
            segment.inputs = available.sorted().map { ValueInfo(name: $0, shape: graph.info(of: $0)!.shape) }
            segment.outputs = produced.map { ValueInfo(name: $0, shape: graph.info(of: $0)!.shape) }
            segment.removeDeadCode()
            let engine = try FloatEngine(graph: segment, threads: threads)
            for k in states.indices {
                let bound = states[k].filter { name, _ in segment.inputs.contains { $0.name == name } }
                let out = try engine.run(bound)
                for (name, t) in out { states[k][name] = t }
            }
        }
        for k in states.indices { states[k] = states[k].filter { laterReads.contains($0.key) } }
        position = end
    }

    /// The graph's first output for every input: the rest of `graph` run from the current
    /// position (the runner itself stays where it is, so alternatives can be compared).
    func finish(_ graph: Graph) throws -> [Tensor] {
        var rest = self
        try rest.advance(graph, to: graph.nodes.count)
        let name = graph.outputs[0].name
        return rest.states.map { $0[name]! }
    }
}

/// The squared error of a quantized graph's output against the float network's on fixed
/// patches, for passes that compare alternatives at one grid (tune-alpha, mixed-precision):
/// the float outputs are computed once, and each alternative runs only from `position` on.
struct OutputErrorProbe {
    let patches: [Tensor]
    let references: [Tensor]
    let threads: Int?
    private(set) var runner: SegmentedRunner

    /// `graph` must have inferred shapes.
    init(graph: Graph, patches: [Tensor], threads: Int?) throws {
        self.patches = patches
        self.threads = threads
        let reference = try FloatEngine(graph: floatReference(graph), threads: threads)
        references = try patches.map { try reference.run($0) }
        runner = SegmentedRunner(graph: graph, inputs: patches, threads: threads)
    }

    /// Moves the shared prefix up to node `end` of `graph` (whose nodes before it are final).
    mutating func advance(_ graph: Graph, to end: Int) throws { try runner.advance(graph, to: end) }

    /// Starts again from the input (after changes upstream of the current position).
    mutating func restart(_ graph: Graph) { runner = SegmentedRunner(graph: graph, inputs: patches, threads: threads) }

    func error(_ graph: Graph) throws -> Double {
        var total = 0.0
        for (out, r) in zip(try runner.finish(graph), references) {
            for (a, b) in zip(out.floats, r.floats) { total += Double((a - b) * (a - b)) }
        }
        return total
    }
}
