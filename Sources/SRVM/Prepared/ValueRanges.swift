import QSRFormat

/// The integer range each value can actually hold, derived from what writes it (clamps,
/// tables, copies) rather than trusted from the file's declared q range: the SIMD conv
/// kernels choose their operand format from these bounds, so they must be proven, not told.
func provenValueRanges(_ p: Program) -> [ClosedRange<Int32>] {
    var r = p.values.map { $0.type.range }
    func table(_ id: ConstantID) -> ClosedRange<Int32> {
        let v = p.constants[Int(id)].values
        return (v.min() ?? 0)...(v.max() ?? 0)
    }
    for ins in p.instructions {
        switch ins {
        case let .inputPixels(dst): r[Int(dst)] = 0...255
        case let .conv(dst, _, _, _, _, _, q, _): r[Int(dst)] = q.clampMin...q.clampMax
        case let .requantize(dst, _, q): r[Int(dst)] = q.clampMin...q.clampMax
        case let .add(dst, _, _, _, _, _, _, _, lo, hi): r[Int(dst)] = lo...hi
        case let .mul(dst, _, _, _, lo, hi): r[Int(dst)] = lo...hi
        case let .concat(dst, _, _, lo, hi): r[Int(dst)] = lo...hi
        case let .sliceChannels(dst, src, _): r[Int(dst)] = r[Int(src)]
        case let .depthToSpace(dst, src, _, _): r[Int(dst)] = r[Int(src)]
        case let .reduceMean(dst, _, _, lo, hi): r[Int(dst)] = lo...hi
        case let .sqrt(dst, _, _, lo, hi): r[Int(dst)] = lo...hi
        case let .lookup(dst, _, t): r[Int(dst)] = table(t)
        case .outputPixels: break
        }
    }
    return r
}

extension ClosedRange where Bound == Int32 {
    /// The largest |element| of the range (a kernel's input bound).
    var magnitude: Int64 { Int64(Swift.max(Int64(lowerBound).magnitude, Int64(upperBound).magnitude)) }
}
