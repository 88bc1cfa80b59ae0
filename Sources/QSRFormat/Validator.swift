import FixedPoint

/// Checks that a program is well formed (SPEC.md §5.4, "Validation"): what the reader runs on
/// every file before returning it, and what the VM relies on. Throws a `QSRError` naming the
/// part (metadata, value, constant, instruction index and mnemonic) and the problem.
public func validate(_ p: Program) throws {
    let m = p.metadata
    guard (1...8).contains(m.scale) else { throw QSRError("metadata: scale \(m.scale) outside 1...8") }
    guard m.valueRange == 1 || m.valueRange == 255 else { throw QSRError("metadata: value range \(m.valueRange) (must be 1 or 255)") }
    guard m.sourceBytes >= 0 else { throw QSRError("metadata: negative source bytes") }
    guard p.slotCount >= 1, p.slotCount <= max(p.values.count, 1) else {
        throw QSRError("program: slot count \(p.slotCount) outside 1...\(max(p.values.count, 1)) (the number of values)")
    }

    var dims: [(c: Int, h: SymbolicDim, w: SymbolicDim)] = []
    dims.reserveCapacity(p.values.count)
    for (i, v) in p.values.enumerated() {
        let at = "value \(i) (\(v.name))"
        guard v.channels >= 1, v.channels <= 1 << 20 else { throw QSRError("\(at): channel count \(v.channels) outside 1...\(1 << 20)") }
        for (what, e) in [("height", v.height), ("width", v.width)] {
            guard e.divisor >= 1 else { throw QSRError("\(at): \(what) divisor \(e.divisor) < 1") }
            if e.symbol != nil { guard e.coefficient != 0 else { throw QSRError("\(at): \(what) has symbol with coefficient 0") } }
            else { guard e.offset >= 1 else { throw QSRError("\(at): constant \(what) \(e.offset) < 1") } }
        }
        guard v.scale.isFinite, v.scale > 0 else { throw QSRError("\(at): scale \(v.scale) is not a positive finite number") }
        guard v.qmin <= v.qmax, v.type.range.contains(v.qmin), v.type.range.contains(v.qmax) else {
            throw QSRError("\(at): q range [\(v.qmin),\(v.qmax)] is not within \(v.type) \(v.type.range)")
        }
        guard v.slot >= 0, Int(v.slot) < p.slotCount else { throw QSRError("\(at): slot \(v.slot) outside 0..<\(p.slotCount)") }
        dims.append((Int(v.channels), SymbolicDim(v.height)!, SymbolicDim(v.width)!))
    }
    for (i, c) in p.constants.enumerated() {
        guard c.count == c.values.count else { throw QSRError("constant \(i): count \(c.count) but \(c.values.count) values") }
        let range = QSRLayout.valueRange(c.kind)
        if let bad = c.values.first(where: { !range.contains($0) }) {
            throw QSRError("constant \(i): value \(bad) outside \(QSRLayout.kindName(c.kind)) \(range)")
        }
    }

    guard let first = p.instructions.first, case .inputPixels = first else {
        throw QSRError("program: the first instruction must be input_pixels")
    }
    guard let last = p.instructions.last, case .outputPixels = last else {
        throw QSRError("program: the last instruction must be output_pixels")
    }

    var written = [Bool](repeating: false, count: p.values.count)
    var slotOwner = [ValueID](repeating: -1, count: p.slotCount)
    for (index, ins) in p.instructions.enumerated() {
        let at = "instruction \(index) (\(ins.mnemonic))"
        func fail(_ message: String) -> QSRError { QSRError("\(at): \(message)") }
        if index > 0, case .inputPixels = ins { throw fail("input_pixels may only be the first instruction") }
        if index < p.instructions.count - 1, case .outputPixels = ins { throw fail("output_pixels may only be the last instruction") }

        // Indices, then dataflow: a source must have been written and still own its slot.
        for v in ins.sources + (ins.destination.map { [$0] } ?? []) {
            guard v >= 0, Int(v) < p.values.count else { throw fail("value index \(v) out of range (\(p.values.count) values)") }
        }
        for v in ins.sources {
            let d = p.values[Int(v)]
            guard written[Int(v)] else { throw fail("reads \(d.name) (value \(v)) before it is written") }
            guard slotOwner[Int(d.slot)] == v else {
                throw fail("reads \(d.name) (value \(v)) after slot \(d.slot) was reused by \(p.values[Int(slotOwner[Int(d.slot)])].name)")
            }
        }
        func value(_ v: ValueID) -> ValueDescriptor { p.values[Int(v)] }
        func constant(_ id: ConstantID, _ role: String) throws -> Constant {
            guard id >= 0, Int(id) < p.constants.count else { throw fail("\(role) constant \(id) out of range (\(p.constants.count) constants)") }
            return p.constants[Int(id)]
        }
        func expect(_ c: Constant, _ id: ConstantID, _ role: String, kinds: [Constant.Kind], count: Int) throws {
            guard kinds.contains(c.kind) else {
                throw fail("\(role) constant \(id) is \(QSRLayout.kindName(c.kind)), expected \(kinds.map(QSRLayout.kindName).joined(separator: " or "))")
            }
            guard c.count == count else { throw fail("\(role) constant \(id) has \(c.count) values, expected \(count)") }
        }
        func clamps(_ lo: Int32, _ hi: Int32, _ dst: ValueID) throws {
            let t = value(dst).type
            guard lo <= hi, t.range.contains(lo), t.range.contains(hi) else {
                throw fail("clamp [\(lo),\(hi)] is not a range within dst \(value(dst).name)'s \(t) \(t.range)")
            }
        }
        func multipliers(_ list: [QuantMultiplier], _ role: String, channels: Int) throws {
            guard list.count == 1 || list.count == channels else {
                throw fail("\(list.count) \(role) multipliers, expected 1 or \(channels)")
            }
            for mq in list { try checkMultiplier(mq, role) }
        }
        func checkMultiplier(_ mq: QuantMultiplier, _ role: String) throws {
            guard (mq.mantissa == 0 && mq.shift == 0) || (mq.mantissa >= 1 << 30 && (-31...30).contains(mq.shift)) else {
                throw fail("\(role) multiplier \(mq) is not normalized (mantissa in [2^30, 2^31), exponent in [-31, 30], or 0)")
            }
        }
        func requant(_ r: Requantization, channels: Int, dst: ValueID) throws {
            try multipliers(r.positive, "positive", channels: channels)
            if let n = r.negative { try multipliers(n, "negative", channels: channels) }
            try clamps(r.clampMin, r.clampMax, dst)
            guard value(dst).type.range.contains(r.offset) else { throw fail("offset \(r.offset) outside \(value(dst).type)") }
        }
        func eightBit(_ v: ValueID, _ role: String) throws {
            guard value(v).type == .u8 || value(v).type == .i8 else { throw fail("\(role) \(value(v).name) is \(value(v).type), must be u8 or i8") }
        }

        switch ins {
        case let .inputPixels(dst):
            guard value(dst).type == .u8 else { throw fail("dst \(value(dst).name) is \(value(dst).type), must be u8") }
        case let .outputPixels(src):
            guard value(src).type == .u8 else { throw fail("src \(value(src).name) is \(value(src).type), must be u8") }
        case let .conv(dst, src, q, w, bits, b, r, pad):
            for (n, f) in [("output channels", q.outputChannels), ("input channels", q.inputChannels), ("kernel height", q.kernelHeight),
                           ("kernel width", q.kernelWidth), ("stride y", q.strideY), ("stride x", q.strideX),
                           ("dilation y", q.dilationY), ("dilation x", q.dilationX), ("group", q.group)] where f < 1 {
                throw fail("\(n) \(f) < 1")
            }
            for (n, f) in [("pad top", q.padTop), ("pad left", q.padLeft), ("pad bottom", q.padBottom), ("pad right", q.padRight)] where f < 0 || f > 1 << 16 {
                throw fail("\(n) \(f) outside 0...65536")
            }
            guard q.inputChannels % q.group == 0, q.outputChannels % q.group == 0 else {
                throw fail("group \(q.group) does not divide \(q.inputChannels) input and \(q.outputChannels) output channels")
            }
            // 16-bit sources serve the edge convs of 8-bit programs; the accumulator bound
            // below still has to hold for every value of the type.
            guard [.u8, .i8, .i16].contains(value(src).type) else {
                throw fail("src \(value(src).name) is \(value(src).type), must be u8, i8 or i16")
            }
            let O = Int(q.outputChannels), cg = Int(q.inputChannels / q.group)
            let (taps, o1) = (cg * Int(q.kernelHeight)).multipliedReportingOverflow(by: Int(q.kernelWidth))
            let (count, o2) = taps.multipliedReportingOverflow(by: O)
            guard !o1, !o2 else { throw fail("weight count overflows") }
            let weights = try constant(w, "weights")
            guard bits == 4 || bits == 8 else { throw fail("weight bits \(bits) (must be 4 or 8)") }
            try expect(weights, w, "weights", kinds: [bits == 4 ? .int4 : .int8], count: count)
            let bias = try constant(b, "bias")
            try expect(bias, b, "bias", kinds: [.int32], count: O)
            try requant(r, channels: O, dst: dst)
            var inputMax = Int64(max(abs(Int(value(src).type.range.lowerBound)), Int(value(src).type.range.upperBound)))
            if let pad {
                let pv = try constant(pad, "pad values")
                try expect(pv, pad, "pad values", kinds: [.int8, .uint8, .int32], count: Int(q.inputChannels))
                let t = value(src).type
                if let bad = pv.values.first(where: { !t.range.contains($0) }) {
                    throw fail("pad value \(bad) outside src \(value(src).name)'s \(t) \(t.range)")
                }
                inputMax = max(inputMax, Int64(pv.values.map { abs(Int($0)) }.max() ?? 0))
            }
            // The int32 accumulator must not overflow for any input in the source's type range.
            for o in 0..<O {
                var bound = Int64(abs(Int(bias.values[o])))
                for k in (o * taps)..<((o + 1) * taps) { bound += Int64(abs(Int(weights.values[k]))) * inputMax }
                guard bound <= Int64(Int32.max) else {
                    throw fail("output channel \(o): the int32 accumulator can overflow (bound \(bound))")
                }
            }
        case let .requantize(dst, _, r):
            try requant(r, channels: Int(value(dst).channels), dst: dst)
        case let .add(dst, a, b, shift, ma, mb, mo, _, lo, hi):
            for (role, v) in [("a", a), ("b", b)] {
                let t = value(v).type.range
                let biggest = max(abs(Int64(t.lowerBound)), abs(Int64(t.upperBound)))
                guard shift < 32, biggest << Int64(shift) <= Int64(Int32.max) else {
                    throw fail("\(role) (\(value(v).type)) shifted left by \(shift) overflows int32")
                }
            }
            for (role, mq) in [("a", ma), ("b", mb), ("output", mo)] { try checkMultiplier(mq, role) }
            for (role, mq) in [("a", ma), ("b", mb)] where mq.real > 0.5 {
                throw fail("multiplier \(role) \(mq) exceeds 1/2 (the int32 sum could overflow)")
            }
            try clamps(lo, hi, dst)
        case let .mul(dst, a, b, mq, lo, hi):
            let ra = value(a).type.range, rb = value(b).type.range
            let extremes = [Int64(ra.lowerBound) * Int64(rb.lowerBound), Int64(ra.lowerBound) * Int64(rb.upperBound),
                            Int64(ra.upperBound) * Int64(rb.lowerBound), Int64(ra.upperBound) * Int64(rb.upperBound)]
            guard extremes.allSatisfy({ Int64(Int32.min)...Int64(Int32.max) ~= $0 }) else {
                throw fail("the product of \(value(a).type) and \(value(b).type) overflows int32")
            }
            try checkMultiplier(mq, "")
            try clamps(lo, hi, dst)
        case let .concat(dst, sources, ms, lo, hi):
            guard !sources.isEmpty else { throw fail("no sources") }
            guard ms.count == sources.count else { throw fail("\(ms.count) multipliers for \(sources.count) sources") }
            for mq in ms { if let mq { try checkMultiplier(mq, "source") } }
            try clamps(lo, hi, dst)
        case let .sliceChannels(dst, src, _), let .depthToSpace(dst, src, _, _):
            guard value(dst).type == value(src).type else {
                throw fail("dst \(value(dst).name) is \(value(dst).type), src \(value(src).name) is \(value(src).type)")
            }
            if case let .depthToSpace(_, _, b, _) = ins, !(1...(1 << 10)).contains(b) { throw fail("block size \(b) outside 1...1024") }
        case let .reduceMean(dst, _, mq, lo, hi), let .sqrt(dst, _, mq, lo, hi):
            // reduce_mean's mean carries 15 fraction bits in int32: its source is at most 16 bits.
            if case let .reduceMean(_, src, _, _, _) = ins, value(src).type == .i32 { throw fail("src \(value(src).name) is i32, reduce_mean reads at most 16 bits") }
            try checkMultiplier(mq, "")
            try clamps(lo, hi, dst)
        case let .lookup(dst, src, t):
            try eightBit(src, "src")
            try eightBit(dst, "dst")
            guard value(src).qmax - value(src).qmin <= 255 else { throw fail("src range [\(value(src).qmin),\(value(src).qmax)] exceeds 256 entries") }
            let table = try constant(t, "table")
            try expect(table, t, "table", kinds: [value(dst).type == .u8 ? .uint8 : .int8], count: 256)
        }
        try checkInstructionShapes(ins, index: index, program: p, input: (SymbolicDim.symbol(0), SymbolicDim.symbol(1))) { dims[Int($0)] }

        if let dst = ins.destination {
            guard !written[Int(dst)] else { throw fail("writes \(value(dst).name) (value \(dst)) a second time") }
            written[Int(dst)] = true
            slotOwner[Int(value(dst).slot)] = dst
        }
    }
}
