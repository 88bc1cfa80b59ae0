import Foundation
import SRGraph
import FixedPoint
import QSRFormat

/// Lowers a quantized float graph (FakeQuantize nodes, fake-quantized conv weights, as the
/// passes leave it) to the integer program of SPEC.md §5.3. Every value gets the integer type
/// of the FakeQuantize that defines it; a FakeQuantize that is the only reader of a compute
/// op's result is absorbed into that op's requantization, one that reads an already integer
/// value becomes a `requantize` instruction (or nothing, when the grids agree).
public func lowerToProgram(_ source: Graph, metadata: ModelMetadata) throws -> Program {
    var graph = source
    hoistQuantizeBeforeDataMovement(&graph)
    try graph.inferShapes()
    var lowering = Lowering(graph: graph, metadata: metadata)
    try lowering.run()
    return lowering.program()
}

/// FakeQuantize commutes with pure data movement (DepthToSpace, Identity): moving it before
/// lets the producing conv requantize straight to the final grid (e.g. the output pixels).
func hoistQuantizeBeforeDataMovement(_ graph: inout Graph) {
    var changed = true
    while changed {
        changed = false
        let producers = Dictionary(graph.nodes.enumerated().flatMap { i, n in n.outputs.map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
        for (qi, q) in graph.nodes.enumerated() {
            guard case .fakeQuantize = q.op, let mi = producers[q.inputs[0]] else { continue }
            let mover = graph.nodes[mi]
            switch mover.op { case .depthToSpace, .identity: break; default: continue }
            let readers = graph.nodes.filter { $0.inputs.contains(mover.outputs[0]) }.count
            let isOutput = graph.outputs.contains { $0.name == mover.outputs[0] }
            guard readers == 1, !isOutput else { continue }
            // x -> mover -> m_out -> Q -> q_out   becomes   x -> Q -> m_out -> mover -> q_out
            let x = mover.inputs[0], mid = mover.outputs[0], out = q.outputs[0]
            graph.nodes[mi] = Node(name: q.name, op: q.op, inputs: [x], outputs: [mid])
            graph.nodes[qi] = Node(name: mover.name, op: mover.op, inputs: [mid], outputs: [out])
            changed = true
            break
        }
    }
}

struct Lowering {
    let graph: Graph
    let metadata: ModelMetadata
    var values: [ValueDescriptor] = []
    var constants: [Constant] = []
    var instructions: [Instruction] = []
    /// Float value name -> the program value holding it.
    var lowered: [String: ValueID] = [:]
    /// FakeQuantize nodes folded into their producer.
    var absorbed = Set<String>()
    /// Values with one scale per channel (only convs read them; their scales fold into weights).
    var channelScales: [ValueID: [Double]] = [:]
    /// Values on an asymmetric grid (q = x/s + z); only convs read them, folding z in.
    var zeroPoints: [ValueID: Int32] = [:]
    let readers: [String: [Node]]

    init(graph: Graph, metadata: ModelMetadata) {
        self.graph = graph
        self.metadata = metadata
        var r: [String: [Node]] = [:]
        for n in graph.nodes { for i in n.inputs where !i.isEmpty { r[i, default: []].append(n) } }
        readers = r
    }

    mutating func run() throws {
        guard graph.inputs.count == 1, graph.outputs.count == 1 else {
            throw GraphError("lowering: an SR program has one input and one output, graph has \(graph.inputs.count) and \(graph.outputs.count)")
        }
        for node in graph.nodes where !absorbed.contains(node.name) { try lower(node) }
        let out = graph.outputs[0].name
        guard let v = lowered[out] else { throw GraphError("lowering: output '\(out)' was not lowered") }
        let d = values[Int(v)]
        let pixelScale = Float(metadata.valueRange) / 255
        guard d.type == .u8, d.channels == 3, d.qmin == 0, d.qmax == 255, abs(d.scale - pixelScale) <= 1e-6 * pixelScale else {
            throw GraphError("lowering: output '\(out)' must be quantized to u8 pixels (scale \(pixelScale)), is \(d.type) scale \(d.scale) [\(d.qmin),\(d.qmax)]")
        }
        instructions.append(.outputPixels(src: v))
    }

    func program() -> Program {
        let (slots, count) = planSlots(values: values.count, instructions: instructions)
        var vs = values
        for i in vs.indices { vs[i].slot = slots[i] }
        return Program(metadata: metadata, values: vs, constants: constants, instructions: instructions, slotCount: count)
    }

    // MARK: values and constants

    func fakeQuant(of name: String) -> FakeQuant? {
        guard let v = lowered[name] else { return nil }
        let d = values[Int(v)]
        return FakeQuant(bits: bitsOf(d), signed: d.qmin < 0, alpha: d.scale * Float(d.qmax))
    }

    func bitsOf(_ d: ValueDescriptor) -> Int {
        let span = d.qmin < 0 ? Int(d.qmax) * 2 + 1 : Int(d.qmax) + 1
        var b = 1
        while (1 << b) < span { b += 1 }
        return b
    }

    mutating func newValue(_ name: String, _ fq: FakeQuant, node: Node) throws -> ValueID {
        guard let info = graph.info(of: name) else { throw GraphError(node, "no shape for '\(name)'") }
        let s = info.shape
        guard s.count == 4, s[0].value == 1, let c = s[1].value else {
            throw GraphError(node, "integer lowering needs [1,C,H,W] tensors with known C, '\(name)' is \(s.text)")
        }
        let type: ElementType = fq.bits <= 8 ? (fq.signed ? .i8 : .u8) : (fq.bits <= 16 ? .i16 : .i32)
        if type == .i16 && !fq.signed && fq.qmax > 32767 { throw GraphError(node, "unsigned \(fq.bits)-bit values do not fit i16") }
        let d = ValueDescriptor(name: name, type: type, channels: Int32(c), height: try dimExpr(s[2], node), width: try dimExpr(s[3], node),
                                scale: fq.scale, qmin: Int32(fq.qmin), qmax: Int32(fq.qmax), slot: 0)
        values.append(d)
        let id = ValueID(values.count - 1)
        lowered[name] = id
        if fq.zeroPoint != 0 { zeroPoints[id] = Int32(fq.zeroPoint) }
        if let a = fq.channelAlphas {
            guard a.count == c else { throw GraphError(node, "\(a.count) channel alphas for \(c) channels") }
            channelScales[id] = a.map { Double($0) / Double(fq.qmax) }
        }
        return id
    }

    func dimExpr(_ d: Dim, _ node: Node) throws -> DimExpr {
        guard let sym = d.symbol else { return .constant(Int32(d.offset)) }
        guard sym == "H" || sym == "W" else { throw GraphError(node, "symbolic dim \(d) is not in H or W") }
        return DimExpr(symbol: sym == "H" ? 0 : 1, coefficient: Int32(d.coefficient), offset: Int32(d.offset), divisor: Int32(d.divisor))
    }

    mutating func addConstant(_ kind: Constant.Kind, _ v: [Int32]) -> ConstantID {
        constants.append(Constant(kind: kind, values: v))
        return ConstantID(constants.count - 1)
    }

    func input(_ node: Node, _ i: Int) throws -> ValueID {
        guard i < node.inputs.count, let v = lowered[node.inputs[i]] else {
            throw GraphError(node, "input '\(i < node.inputs.count ? node.inputs[i] : "?")' is not an integer value (a FakeQuantize is missing before this node)")
        }
        return v
    }

    /// The single scale of a value; a per-channel value may only be read by a conv.
    func scale(_ v: ValueID) -> Double {
        precondition(channelScales[v] == nil, "per-channel value \(values[Int(v)].name) read by a non-conv op")
        return Double(values[Int(v)].scale)
    }

    /// The grid a compute node's result is produced on: the FakeQuantize that is its only reader.
    mutating func resultGrid(_ node: Node) throws -> FakeQuant {
        let out = node.outputs[0]
        guard let rs = readers[out], rs.count == 1, case .fakeQuantize(let fq) = rs[0].op,
              !graph.outputs.contains(where: { $0.name == out }) else {
            throw GraphError(node, "result '\(out)' must be read by exactly one FakeQuantize (run insert-quant before lowering)")
        }
        absorbed.insert(rs[0].name)
        return fq
    }

    /// Declares the value the absorbed FakeQuantize produces, for `node`'s result.
    mutating func resultValue(_ node: Node, _ fq: FakeQuant) throws -> ValueID {
        let q = readers[node.outputs[0]]![0]
        let id = try newValue(q.outputs[0], fq, node: node)
        lowered[node.outputs[0]] = id
        return id
    }

    // MARK: ops

    mutating func lower(_ node: Node) throws {
        if case .conv = node.op {} else {
            for name in node.inputs where !name.isEmpty {
                if let v = lowered[name], channelScales[v] != nil || zeroPoints[v] != nil {
                    throw GraphError(node, "reads '\(name)', which has per-channel scales or a zero point: only convs may read such values")
                }
            }
        }
        switch node.op {
        case .fakeQuantize(let fq):
            let src = node.inputs[0]
            if graph.inputs[0].name == src {
                let full = Float(metadata.valueRange)
                guard fq.bits == 8, !fq.signed, abs(fq.alpha - full) <= 1e-6 * full else {
                    throw GraphError(node, "the network input must be quantized as u8 pixels (alpha \(full)), got \(fq)")
                }
                let dst = try newValue(node.outputs[0], fq, node: node)
                instructions.append(.inputPixels(dst: dst))
                return
            }
            let x = try input(node, 0)
            let d = values[Int(x)]
            if fq.channelAlphas == nil, fq.zeroPoint == 0, channelScales[x] == nil, bitsOf(d) == fq.bits, (d.qmin < 0) == fq.signed, abs(d.scale - fq.scale) <= 1e-7 * fq.scale {
                lowered[node.outputs[0]] = x
                return
            }
            guard channelScales[x] == nil else { throw GraphError(node, "re-quantizing a per-channel grid is not supported") }
            let dst = try newValue(node.outputs[0], fq, node: node)
            let ms = (channelScales[dst] ?? [Double(fq.scale)]).map { QuantMultiplier(scale(x) / $0) }
            instructions.append(.requantize(dst: dst, src: x, requant: Requantization(positive: ms, clampMin: Int32(fq.qmin), clampMax: Int32(fq.qmax),
                                                                                      offset: Int32(fq.zeroPoint))))
        case .conv(let a):
            try lowerConv(node, a)
        case .relu, .leakyRelu, .clip, .prelu:
            let x = try input(node, 0)
            let fq = try resultGrid(node)
            let m = Double(scale(x)) / Double(fq.scale)
            var lo = Int32(fq.qmin), hi = Int32(fq.qmax)
            var negative: [QuantMultiplier]? = nil
            switch node.op {
            case .relu: lo = max(lo, 0)
            case .leakyRelu(let alpha):
                guard alpha >= 0 else { throw GraphError(node, "negative LeakyRelu slope is not supported in integers") }
                negative = [QuantMultiplier(m * Double(alpha))]
            case .clip(let cmin, let cmax):
                if cmin.isFinite { lo = max(lo, Int32(clamping: Int((Double(cmin) / Double(fq.scale)).rounded()))) }
                if cmax.isFinite { hi = min(hi, Int32(clamping: Int((Double(cmax) / Double(fq.scale)).rounded()))) }
            case .prelu:
                guard let slope = graph.initializers[node.inputs[1]], slope.count == Int(values[Int(x)].channels) || slope.count == 1,
                      slope.floats.allSatisfy({ $0 >= 0 }) else {
                    throw GraphError(node, "PRelu needs a constant non-negative per-channel slope")
                }
                negative = slope.floats.map { QuantMultiplier(m * Double($0)) }
            default: break
            }
            let dst = try resultValue(node, fq)
            instructions.append(.requantize(dst: dst, src: x, requant: Requantization(positive: [QuantMultiplier(m)], negative: negative, clampMin: lo, clampMax: hi)))
        case .add, .sub:
            var a = try input(node, 0), b = try input(node, 1)
            let fq = try resultGrid(node)
            let subtract = node.op == .sub
            if isBroadcast(a) && !isBroadcast(b) {
                guard !subtract else { throw GraphError(node, "Sub of a per-channel value minus a full tensor is not supported") }
                swap(&a, &b)
            }
            try checkBinaryShapes(node, a, b)
            let sa = scale(a), sb = scale(b)
            let wide = values[Int(a)].type == .i16 || values[Int(b)].type == .i16 || values[Int(a)].type == .i32 || values[Int(b)].type == .i32
            let shift: UInt8 = wide ? 15 : 20
            let twoMax = 2 * max(sa, sb)
            let dst = try resultValue(node, fq)
            instructions.append(.add(dst: dst, a: a, b: b, leftShift: shift, multiplierA: QuantMultiplier(sa / twoMax),
                                     multiplierB: QuantMultiplier(sb / twoMax),
                                     multiplierOut: QuantMultiplier(twoMax / (Double(1 << Int(shift)) * Double(fq.scale))),
                                     subtract: subtract, clampMin: Int32(fq.qmin), clampMax: Int32(fq.qmax)))
        case .mul, .pow:
            var a = try input(node, 0)
            var b: ValueID
            if node.op == .pow {
                guard let e = graph.initializers[node.inputs[1]], e.count == 1, e.floats.first == 2 else {
                    throw GraphError(node, "only Pow with the constant exponent 2 is supported in integers")
                }
                b = a
            } else {
                b = try input(node, 1)
            }
            if isBroadcast(a) && !isBroadcast(b) { swap(&a, &b) }
            try checkBinaryShapes(node, a, b)
            let fq = try resultGrid(node)
            let dst = try resultValue(node, fq)
            instructions.append(.mul(dst: dst, a: a, b: b, multiplier: QuantMultiplier(scale(a) * scale(b) / Double(fq.scale)),
                                     clampMin: Int32(fq.qmin), clampMax: Int32(fq.qmax)))
        case .sigmoid:
            let x = try input(node, 0)
            let d = values[Int(x)]
            guard d.type == .u8 || d.type == .i8 else { throw GraphError(node, "Sigmoid needs an 8-bit input (a FakeQuantize of at most 8 bits before it)") }
            let fq = try resultGrid(node)
            var table = [Int32](repeating: 0, count: 256)
            for i in 0..<256 {
                let q = min(Int(d.qmin) + i, Int(d.qmax))
                let v = Float(q) * d.scale
                let s: Float = v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
                table[i] = Int32(min(max((s / fq.scale).rounded(), Float(fq.qmin)), Float(fq.qmax)))
            }
            guard fq.qmin >= 0 && fq.qmax <= 255 || fq.qmin >= -128 && fq.qmax <= 127 else {
                throw GraphError(node, "Sigmoid output must be 8-bit")
            }
            let dst = try resultValue(node, fq)
            instructions.append(.lookup(dst: dst, src: x, table: addConstant(fq.signed ? .int8 : .uint8, table)))
        case .reduceMean(let axes, let keep):
            let x = try input(node, 0)
            guard keep, let ax = axes, Set(ax.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else {
                throw GraphError(node, "only ReduceMean over H and W with keepdims is supported in integers")
            }
            guard values[Int(x)].type != .i32 else { throw GraphError(node, "ReduceMean needs an input of at most 16 bits") }
            let fq = try resultGrid(node)
            let dst = try resultValue(node, fq)
            let m = scale(x) / (Double(fq.scale) * Double(1 << meanFractionBits))
            instructions.append(.reduceMean(dst: dst, src: x, multiplier: QuantMultiplier(m),
                                            clampMin: Int32(fq.qmin), clampMax: Int32(fq.qmax)))
        case .sqrt:
            let x = try input(node, 0)
            let fq = try resultGrid(node)
            let dst = try resultValue(node, fq)
            let so = Double(fq.scale)
            instructions.append(.sqrt(dst: dst, src: x, multiplier: QuantMultiplier(scale(x) / (so * so)),
                                      clampMin: Int32(fq.qmin), clampMax: Int32(fq.qmax)))
        case .identity:
            lowered[node.outputs[0]] = try input(node, 0)
        case .depthToSpace(let b, let mode):
            let x = try input(node, 0)
            let dst = try newValue(node.outputs[0], fakeQuant(of: node.inputs[0])!, node: node)
            instructions.append(.depthToSpace(dst: dst, src: x, blockSize: Int32(b), crd: mode == .crd))
        case .split(let axis, _):
            let x = try input(node, 0)
            guard axis == 1 || axis == -3 else { throw GraphError(node, "integer Split only along channels") }
            var start: Int32 = 0
            for out in node.outputs {
                let dst = try newValue(out, fakeQuant(of: node.inputs[0])!, node: node)
                instructions.append(.sliceChannels(dst: dst, src: x, start: start))
                start += values[Int(dst)].channels
            }
        case .concat(let axis):
            guard axis == 1 || axis == -3 else { throw GraphError(node, "integer Concat only along channels") }
            let srcs = try node.inputs.indices.map { try input(node, $0) }
            let grid: FakeQuant
            if let rs = readers[node.outputs[0]], rs.count == 1, case .fakeQuantize(let fq) = rs[0].op {
                grid = fq
                absorbed.insert(rs[0].name)
                let dst = try newValue(rs[0].outputs[0], grid, node: node)
                lowered[node.outputs[0]] = dst
                let ms: [QuantMultiplier?] = srcs.map { s in
                    let d = values[Int(s)]
                    return abs(d.scale - grid.scale) <= 1e-7 * grid.scale && d.qmin >= grid.qmin && d.qmax <= grid.qmax
                        ? nil : QuantMultiplier(scale(s) / Double(grid.scale))
                }
                instructions.append(.concat(dst: dst, sources: srcs, multipliers: ms, clampMin: Int32(grid.qmin), clampMax: Int32(grid.qmax)))
            } else {
                let first = values[Int(srcs[0])]
                guard srcs.allSatisfy({ values[Int($0)].scale == first.scale && values[Int($0)].type == first.type }) else {
                    throw GraphError(node, "Concat inputs are on different grids and no FakeQuantize follows the concat")
                }
                let dst = try newValue(node.outputs[0], fakeQuant(of: node.inputs[0])!, node: node)
                instructions.append(.concat(dst: dst, sources: srcs, multipliers: srcs.map { _ in nil }, clampMin: first.qmin, clampMax: first.qmax))
            }
        case .div, .reshape, .transpose, .resizeNearest:
            throw GraphError(node, "\(node.op.name) has no integer lowering (canonicalize should have folded it)")
        }
    }

    func isBroadcast(_ v: ValueID) -> Bool {
        let d = values[Int(v)]
        return d.height == .constant(1) && d.width == .constant(1)
    }

    func checkBinaryShapes(_ node: Node, _ a: ValueID, _ b: ValueID) throws {
        let da = values[Int(a)], db = values[Int(b)]
        guard da.channels == db.channels, isBroadcast(b) || (da.height == db.height && da.width == db.width) else {
            throw GraphError(node, "integer \(node.op.name) needs equal shapes or a [C,1,1] second operand")
        }
    }

    mutating func lowerConv(_ node: Node, _ a: Conv2DAttributes) throws {
        let x = try input(node, 0)
        let xd = values[Int(x)]
        guard xd.type == .u8 || xd.type == .i8 || xd.type == .i16 else {
            throw GraphError(node, "conv input must be an integer of at most 16 bits, is \(xd.type) (a FakeQuantize is missing before this conv)")
        }
        guard let wq = a.weightQuantization else { throw GraphError(node, "conv weights are not quantized (run quantize-weights)") }
        guard let w = graph.initializers[node.inputs[1]] else { throw GraphError(node, "conv weight is not a constant") }
        guard a.autoPad == .notSet else { throw GraphError(node, "auto_pad must be resolved before lowering") }
        let o = w.shape[0], per = w.count / o
        // Per-channel input scales fold into the weights: the integer conv multiplies
        // q_c = x_c / s_c by round(w·s_c / s_w), and its accumulator is in units of s_w.
        let inScales = channelScales[x]
        let cg = w.shape[1], taps = per / cg, og = o / a.group
        var qw = [Int32](repeating: 0, count: w.count)
        for oc in 0..<o {
            let s = wq.scale(channel: oc)
            for i in 0..<per {
                let fold = inScales.map { Float($0[(oc / og) * cg + i / taps]) } ?? 1
                let q = s > 0 ? Int((w.floats[oc * per + i] * fold / s).rounded()) : 0
                guard abs(q) <= wq.qmax else { throw GraphError(node, "weight \(q) outside \(wq.bits)-bit range: weights are not fake-quantized with their scales") }
                qw[oc * per + i] = Int32(q)
            }
        }
        let sIn = inScales == nil ? scale(x) : 1
        let biasTensor = node.inputs.count > 2 && !node.inputs[2].isEmpty ? graph.initializers[node.inputs[2]] : nil
        if node.inputs.count > 2 && !node.inputs[2].isEmpty && biasTensor == nil { throw GraphError(node, "conv bias is not a constant") }
        var qb = [Int32](repeating: 0, count: o)
        for oc in 0..<o {
            let b = Double(biasTensor?.floats[oc] ?? 0)
            let sw = Double(wq.scale(channel: oc))
            qb[oc] = sw > 0 ? Int32(clamping: Int64((b / (sIn * sw)).rounded())) : 0
        }
        // An asymmetric input (q = x/s + z) reads z where x = 0: padding is z, and
        // Σ w·(q − z) = Σ w·q − z·Σ w moves into the bias.
        let z = zeroPoints[x] ?? 0
        if z != 0 {
            for oc in 0..<o { qb[oc] = qb[oc] &- z &* qw[(oc * per)..<((oc + 1) * per)].reduce(0, &+) }
        }
        var padConstant: ConstantID? = nil
        if a.padValues != nil || z != 0 {
            let pads = a.padValues ?? [Float](repeating: 0, count: Int(xd.channels))
            guard pads.count == Int(xd.channels) else { throw GraphError(node, "\(pads.count) pad values for \(xd.channels) channels") }
            padConstant = addConstant(.int32, pads.enumerated().map { c, p in
                Int32(clamping: Int64((Double(p) / (inScales?[c] ?? sIn)).rounded()) + Int64(z))
            }.map { min(max($0, xd.qmin), xd.qmax) })
        }
        // The int32 accumulator must hold for every input of the source type (the reader checks
        // the same bound): |B[o]| + Σ|W[o,·]| · max|x| ≤ 2^31 − 1.
        let inputMax = max(abs(Int64(xd.type.range.lowerBound)), Int64(xd.type.range.upperBound))
        for oc in 0..<o {
            let bound = Int64(abs(Int(qb[oc]))) + qw[(oc * per)..<((oc + 1) * per)].reduce(Int64(0)) { $0 + Int64(abs(Int($1))) } * inputMax
            guard bound <= Int64(Int32.max) else {
                throw GraphError(node, "output channel \(oc): the int32 accumulator could overflow with a \(xd.type) input (bound \(bound)); give this conv a narrower input (--override or --edge-abits)")
            }
        }
        let fq = try resultGrid(node)
        var lo = Int32(fq.qmin), hi = Int32(fq.qmax)
        let sOut = Double(fq.scale)
        let outScales = fq.channelAlphas.map { $0.map { Double($0) / Double(fq.qmax) } }
        let perOutput = wq.scales.count > 1 || outScales != nil
        let count = perOutput ? o : 1
        func real(_ oc: Int) -> Double { sIn * Double(wq.scale(channel: oc)) / (outScales?[oc] ?? sOut) }
        let positive = (0..<count).map { QuantMultiplier(real($0)) }
        var negative: [QuantMultiplier]? = nil
        switch a.activation {
        case .relu?: lo = max(lo, 0)
        case .leakyRelu(let alpha)?:
            guard alpha >= 0 else { throw GraphError(node, "negative LeakyRelu slope is not supported in integers") }
            negative = (0..<count).map { QuantMultiplier(real($0) * Double(alpha)) }
        case .clip(let cmin, let cmax)?:
            guard outScales == nil else { throw GraphError(node, "a clipped conv result cannot have per-channel scales") }
            if cmin.isFinite { lo = max(lo, Int32(clamping: Int((Double(cmin) / sOut).rounded()))) }
            if cmax.isFinite { hi = min(hi, Int32(clamping: Int((Double(cmax) / sOut).rounded()))) }
        case nil: break
        }
        if fq.zeroPoint != 0 && a.activation != nil { throw GraphError(node, "an activated conv result cannot have a zero point") }
        let dst = try resultValue(node, fq)
        let params = ConvParameters(outputChannels: Int32(o), inputChannels: xd.channels, kernelHeight: Int32(a.kernel[0]), kernelWidth: Int32(a.kernel[1]),
                                    strideY: Int32(a.strides[0]), strideX: Int32(a.strides[1]),
                                    padTop: Int32(a.pads[0]), padLeft: Int32(a.pads[1]), padBottom: Int32(a.pads[2]), padRight: Int32(a.pads[3]),
                                    dilationY: Int32(a.dilations[0]), dilationX: Int32(a.dilations[1]), group: Int32(a.group))
        instructions.append(.conv(dst: dst, src: x, params: params, weights: addConstant(wq.bits <= 4 ? .int4 : .int8, qw),
                                  weightBits: UInt8(wq.bits <= 4 ? 4 : 8), bias: addConstant(.int32, qb),
                                  requant: Requantization(positive: positive, negative: negative, clampMin: lo, clampMax: hi, offset: Int32(fq.zeroPoint)),
                                  padValues: padConstant))
    }
}

/// Liveness-based buffer plan: a value takes a free slot when it is written and gives it back
/// after its last reader; a writer never shares a slot with its own inputs.
func planSlots(values count: Int, instructions: [Instruction]) -> (slots: [Int32], count: Int) {
    var lastUse = [Int](repeating: -1, count: count)
    for (i, ins) in instructions.enumerated() { for s in ins.sources { lastUse[Int(s)] = i } }
    var slot = [Int32](repeating: -1, count: count)
    var free: [Int32] = []
    var total: Int32 = 0
    for (i, ins) in instructions.enumerated() {
        if let d = ins.destination {
            if let s = free.popLast() { slot[Int(d)] = s } else { slot[Int(d)] = total; total += 1 }
            if lastUse[Int(d)] < i { free.append(slot[Int(d)]) }   // never read
        }
        // In source order (not a Set's, which changes per process): the file must not depend on the run.
        var freed = Set<ValueID>()
        for s in ins.sources where lastUse[Int(s)] == i && freed.insert(s).inserted { free.append(slot[Int(s)]) }
    }
    for i in 0..<count where slot[i] < 0 { slot[i] = 0 }
    return (slot, Int(total))
}
