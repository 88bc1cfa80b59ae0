import XCTest
import SRGraph
import FloatEngine

/// The fast non-conv paths (Pow, ReduceMean, Split/Concat, broadcast binaries, buffer reuse)
/// against the reference kernels, on odd shapes and on sizes large enough to take the
/// threaded paths (elementwise work is threaded from 65536 elements, copies from 262144).
final class FastOpTests: XCTestCase {
    /// Runs a one-node graph (first input is the graph input, the rest initializers) with every
    /// kernel set and thread count, checking each output against the reference kernels.
    /// `exactly`, when given, is the single output the fast kernels must reproduce bit for bit
    /// (they must still be close to the reference).
    func checkFastMatchesReference(_ op: Op, _ inputs: [Tensor], outputs: Int = 1, exact: Bool = false,
                                   exactly expected: Tensor? = nil, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        var inits: [String: Tensor] = [:]
        var names = ["x"]
        for (i, t) in inputs.dropFirst().enumerated() { inits["c\(i)"] = t; names.append("c\(i)") }
        let outNames = (0..<outputs).map { "y\($0)" }
        let g = Graph(name: "op", inputs: [ValueInfo(name: "x", shape: Shape(known: inputs[0].shape))],
                      outputs: outNames.map { ValueInfo(name: $0, shape: []) }, initializers: inits,
                      nodes: [Node(name: "node", op: op, inputs: names, outputs: outNames)])
        let ref = try FloatEngine(graph: g, threads: 1, kernels: .reference).run(["x": inputs[0]])
        for k in fastKernelChoices() {
            for threads in [1, 2] {
                let got = try FloatEngine(graph: g, threads: threads, kernels: k).run(["x": inputs[0]])
                for name in outNames {
                    let text = "\(message) \(name) \(k) t\(threads)"
                    if let expected {
                        assertBitIdentical(got[name]!, expected, text, file: file, line: line)
                        assertClose(got[name]!, ref[name]!, text, file: file, line: line)
                    } else if exact {
                        assertBitIdentical(got[name]!, ref[name]!, text, file: file, line: line)
                    } else {
                        assertClose(got[name]!, ref[name]!, text, file: file, line: line)
                    }
                }
            }
        }
    }

    func assertBitIdentical(_ a: Tensor, _ b: Tensor, _ message: String, file: StaticString, line: UInt) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        let same = a.floats.count == b.floats.count && zip(a.floats, b.floats).allSatisfy {
            $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN)
        }
        let first = zip(a.floats, b.floats).enumerated().first {
            $0.element.0.bitPattern != $0.element.1.bitPattern && !($0.element.0.isNaN && $0.element.1.isNaN)
        }
        XCTAssertTrue(same, "\(message): not bit-identical, first at \(first.map { "\($0.offset): \($0.element)" } ?? "-")",
                      file: file, line: line)
    }

    func testPowConstantExponents() throws {
        var rng = SplitMix(state: 21)
        var x = rng.tensor([1, 5, 131, 133], scale: 3)   // 87115 elements: threaded path
        // Values where a careless square would differ from powf: signed zeros, infinities,
        // NaN, subnormals, overflow and underflow to zero.
        let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -1e-30,
                                 1e20, -3e19, .greatestFiniteMagnitude, 1.0000001, -0.9999999]
        for (i, v) in specials.enumerated() { x.floats[i * 997] = v }
        // Exponent 2 is x*x, the correctly rounded square. glibc's powf is not quite correctly
        // rounded (off by one ulp for about 0.07% of inputs, e.g. 1.0002441^2), so the fast path
        // is checked bit for bit against x*x and only within tolerance against powf.
        let squares = Tensor(shape: x.shape, floats: x.floats.map { $0 * $0 })
        try checkFastMatchesReference(.pow, [x, .scalar(2)], exactly: squares, "pow 2")
        try checkFastMatchesReference(.pow, [x, Tensor(shape: [1, 1, 1, 1], floats: [2])], exactly: squares, "pow [1,1,1,1] 2")
        let ulpCase = Tensor(shape: [1], floats: [1.0002441])   // 1 + 2^-12: the square is an exact tie
        try checkFastMatchesReference(.pow, [ulpCase, .scalar(2)], exactly: Tensor(shape: [1], floats: [1.0002441 * 1.0002441]), "pow tie")
        try checkFastMatchesReference(.pow, [x, .scalar(1)], exact: true, "pow 1")
        try checkFastMatchesReference(.pow, [x, Tensor(shape: [1, 1, 1, 1], floats: [1])], exact: true, "pow [1,1,1,1] 1")
        try checkFastMatchesReference(.pow, [x, .scalar(3)], exact: true, "pow 3 (reference path)")
        // Tensor exponents: per channel and full, on positive bases so powf is finite.
        let base = Tensor(shape: [1, 3, 7, 9], floats: rng.tensor([1, 3, 7, 9]).floats.map { abs($0) + 0.1 })
        try checkFastMatchesReference(.pow, [base, Tensor(shape: [1, 3, 1, 1], floats: [2, 1, 0.5])], "pow per channel")
        try checkFastMatchesReference(.pow, [base, rng.tensor([1, 3, 7, 9])], "pow full tensor")
        // A broadcast base with a scalar exponent takes the reference path too.
        try checkFastMatchesReference(.pow, [Tensor(shape: [1], floats: [1.5]), .scalar(2)], "pow scalar base")
    }

    /// FakeQuantize's SIMD kernel reproduces `FakeQuant.apply` bit for bit: per-tensor and
    /// per-channel grids, signed, unsigned and zero-pointed, 4 to 16 bits, on values at and
    /// beside every rounding tie (k + 0.5 steps, one ulp either side), at the clamp bounds, ±0,
    /// infinities and NaN, with tails that are not a multiple of the vector width.
    func testFakeQuantizeMatchesApplyBitForBit() throws {
        var rng = SplitMix(state: 5)
        let grids: [FakeQuant] = [
            FakeQuant(bits: 8, signed: true, alpha: 3.7), FakeQuant(bits: 4, signed: false, alpha: 1.3),
            FakeQuant(bits: 8, signed: false, alpha: 255, zeroPoint: 37), FakeQuant(bits: 16, signed: true, alpha: 0.01),
            FakeQuant(bits: 8, signed: true, alpha: 2, channelAlphas: [2, 0.5, 1e-3, 1.75, 0.3]),
            FakeQuant(bits: 4, signed: false, alpha: 6, channelAlphas: [6, 1, 0.25, 3, 2.5]),
        ]
        for q in grids {
            var x = rng.tensor([1, 5, 67, 201], scale: q.alpha * 1.3)   // 67335 elements: threaded
            let s = q.clampAndStep.step
            var k = 0
            for step in stride(from: -20, through: 20, by: 1) {
                let tie = (Float(step) + 0.5) * s
                for v in [tie, tie.nextUp, tie.nextDown, Float(step) * s] { x.floats[k * 13] = v; k += 1 }
            }
            let specials: [Float] = [0, -0, .infinity, -.infinity, .nan, q.alpha, -q.alpha, q.alpha.nextUp, -q.alpha.nextDown,
                                     .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1e30, -1e30]
            for v in specials { x.floats[k * 13] = v; k += 1 }
            let expected = Tensor(shape: x.shape, floats: x.floats.enumerated().map { i, v in q.channel((i / (67 * 201)) % 5).apply(v) })
            try checkFastMatchesReference(.fakeQuantize(q), [x], exactly: expected, "fake-quantize \(q)")
            let tail = Tensor(shape: [1, 5, 3, 3], floats: Array(x.floats.prefix(45)))   // 9-element planes
            try checkFastMatchesReference(.fakeQuantize(q), [tail], exact: true, "fake-quantize tail \(q)")
        }
    }

    func testReduceMeanAxes() throws {
        var rng = SplitMix(state: 22)
        let big = rng.tensor([1, 7, 97, 101], scale: 2)   // 68579 elements, odd plane size
        let small = rng.tensor([2, 3, 5, 7])
        for x in [big, small] {
            for (axes, keep) in [([2, 3], true), ([-1, -2], true), ([3], true), ([1, 2, 3], false), ([2, 3], false),
                                 ([1], true), ([0, 2], false), ([1, 3], true), ([0], true)] as [([Int], Bool)] {
                try checkFastMatchesReference(.reduceMean(axes: axes, keepDims: keep), [x], "reduceMean \(x.shape) \(axes) keep \(keep)")
            }
            try checkFastMatchesReference(.reduceMean(axes: nil, keepDims: false), [x], "reduceMean \(x.shape) all")
        }
        // A mean of a constant plane is that constant exactly.
        let c = Tensor(shape: [1, 2, 33, 35], floats: .init(repeating: 0.3, count: 2 * 33 * 35))
        try checkFastMatchesReference(.reduceMean(axes: [2, 3], keepDims: true), [c], exact: true, "constant plane")
    }

    func testSplitAndConcatAxes() throws {
        var rng = SplitMix(state: 23)
        // Axis 1 of batch-1 NCHW (one block per output), large enough for threaded copies.
        let x = rng.tensor([1, 40, 97, 101])
        try checkFastMatchesReference(.split(axis: 1, sizes: [10, 30]), [x], outputs: 2, exact: true, "split axis 1")
        try checkFastMatchesReference(.split(axis: 1, sizes: [3, 1, 36]), [x], outputs: 3, exact: true, "split axis 1 uneven")
        try checkFastMatchesReference(.split(axis: -3, sizes: nil), [x], outputs: 2, exact: true, "split axis -3 halves")
        // Other axes and a batch of two: several runs per output.
        let y = rng.tensor([2, 5, 9, 11])
        for axis in [0, 1, 2, 3, -1] {
            let size = y.shape[(axis + 4) % 4]
            let sizes = size == 2 ? [1, 1] : [size / 3, size - size / 3]
            try checkFastMatchesReference(.split(axis: axis, sizes: sizes), [y], outputs: 2, exact: true, "split \(y.shape) axis \(axis)")
        }
        // Concat: the graph input first, initializers after, along each axis.
        let a = rng.tensor([1, 16, 97, 101])
        try checkFastMatchesReference(.concat(axis: 1), [a, rng.tensor([1, 3, 97, 101]), rng.tensor([1, 16, 97, 101])],
                                      exact: true, "concat axis 1")
        let b = rng.tensor([2, 3, 5, 7])
        try checkFastMatchesReference(.concat(axis: 0), [b, rng.tensor([1, 3, 5, 7])], exact: true, "concat axis 0")
        try checkFastMatchesReference(.concat(axis: 1), [b, rng.tensor([2, 4, 5, 7])], exact: true, "concat axis 1 batch 2")
        try checkFastMatchesReference(.concat(axis: 2), [b, rng.tensor([2, 3, 1, 7])], exact: true, "concat axis 2")
        try checkFastMatchesReference(.concat(axis: -1), [b, rng.tensor([2, 3, 5, 2]), b], exact: true, "concat axis -1")
    }

    func testBroadcastBinaryPatterns() throws {
        var rng = SplitMix(state: 24)
        let big = rng.tensor([1, 7, 97, 101])
        let perChannel = rng.tensor([1, 7, 1, 1])
        let nonZero = Tensor(shape: [1, 7, 1, 1], floats: perChannel.floats.map { $0 + ($0 < 0 ? -0.5 : 0.5) })
        for op in [Op.add, .sub, .mul, .div] {
            let divisor = op == .div ? nonZero : perChannel
            try checkFastMatchesReference(op, [big, divisor], exact: true, "\(op.name) [1,C,H,W] op [1,C,1,1]")
            try checkFastMatchesReference(op, [perChannel, Tensor(shape: [1, 7, 97, 101], floats: big.floats.map { $0 + 2 })],
                                          exact: true, "\(op.name) [1,C,1,1] op [1,C,H,W]")
            try checkFastMatchesReference(op, [perChannel, divisor], exact: true, "\(op.name) [1,C,1,1] op [1,C,1,1]")
            try checkFastMatchesReference(op, [big, Tensor(shape: [7, 1, 1], floats: divisor.floats)], exact: true, "\(op.name) rank-3 operand")
            try checkFastMatchesReference(op, [big, .scalar(op == .div ? 3 : -0.25)], exact: true, "\(op.name) scalar")
            // Both operands broadcast: the fallback inside the fast path.
            try checkFastMatchesReference(op, [rng.tensor([1, 3, 1, 9]), Tensor(shape: [1, 1, 5, 1], floats: [1, 2, 3, 4, 5])],
                                          exact: true, "\(op.name) both broadcast")
        }
    }

    /// Buffers freed after their last use are reused for later outputs; a freed value that is
    /// still aliased (Identity shares its input's storage) must not be overwritten, and the
    /// caller's input must stay intact.
    func testBufferReuseKeepsAliasesAndInputsIntact() throws {
        var rng = SplitMix(state: 25)
        let shape: [Int] = [1, 4, 67, 71]   // 19028 elements: big enough to be recycled
        let nodes = [
            Node(name: "relu", op: .relu, inputs: ["x"], outputs: ["a"]),
            Node(name: "alias", op: .identity, inputs: ["a"], outputs: ["b"]),
            Node(name: "mean", op: .reduceMean(axes: [2, 3], keepDims: true), inputs: ["a"], outputs: ["m"]),
            Node(name: "sub", op: .sub, inputs: ["a", "m"], outputs: ["c"]),      // last use of a
            Node(name: "sq", op: .pow, inputs: ["c", "two"], outputs: ["d"]),     // may reuse a's buffer
            Node(name: "neg", op: .sub, inputs: ["x", "d"], outputs: ["e"]),      // last use of x (the input)
            Node(name: "lr", op: .leakyRelu(alpha: 0.1), inputs: ["e"], outputs: ["f"]),
            Node(name: "split", op: .split(axis: 1, sizes: [1, 3]), inputs: ["f"], outputs: ["f0", "f1"]),
            Node(name: "cat", op: .concat(axis: 1), inputs: ["b", "f1", "d", "f0"], outputs: ["y"]),
        ]
        let g = makeGraph(input: Shape(known: shape), output: "y", nodes: nodes, initializers: ["two": .scalar(2)])
        let x = rng.tensor(shape)
        let before = x.floats
        let ref = try FloatEngine(graph: g, kernels: .reference).run(x)
        for k in fastKernelChoices() {
            for threads in [1, 2] {
                let engine = try FloatEngine(graph: g, threads: threads, kernels: k)
                assertClose(try engine.run(x), ref, "reuse \(k) t\(threads)")
                assertClose(try engine.run(x), ref, "reuse again \(k) t\(threads)")
            }
        }
        XCTAssertEqual(x.floats, before)
    }
}
