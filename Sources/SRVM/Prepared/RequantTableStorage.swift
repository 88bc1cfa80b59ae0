import FixedPoint
import QSRFormat
import SRVMKernelsCommon

/// Owns the per-channel lanes of one requantization (and optionally a bias), padded to
/// `paddedChannels`, and hands out `RequantTables` pointing into them. `channelOf` maps a
/// padded index to the instruction's channel (nil for padding lanes, which get zeros).
/// `inputBound`: the largest |x| the requantization sees (bias added), when known.
final class RequantTableStorage {
    private let storage: UnsafeMutablePointer<Int32>
    let tables: RequantTables

    init(_ r: Requantization, paddedChannels n: Int, bias: [Int32]?, inputBound: Int64 = .max, channelOf: (Int) -> Int?) {
        storage = .allocate(capacity: 7 * n + 8)
        storage.initialize(repeating: 0, count: 7 * n + 8)
        let s = storage
        var hasLeft = false
        for i in 0..<n {
            guard let c = channelOf(i) else { continue }
            let pos = r.positive.count == 1 ? r.positive[0] : r.positive[c]
            let neg = r.negative.map { $0.count == 1 ? $0[0] : $0[c] } ?? pos
            s[i] = pos.mantissa; s[n + i] = Int32(max(0, Int(pos.shift))); s[2 * n + i] = Int32(max(0, -Int(pos.shift)))
            s[3 * n + i] = neg.mantissa; s[4 * n + i] = Int32(max(0, Int(neg.shift))); s[5 * n + i] = Int32(max(0, -Int(neg.shift)))
            if let bias { s[6 * n + i] = bias[c] }
            if pos.shift > 0 || neg.shift > 0 { hasLeft = true }
        }
        tables = RequantTables(mantissa: s, leftShift: s + n, rightShift: s + 2 * n,
                               negMantissa: s + 3 * n, negLeftShift: s + 4 * n, negRightShift: s + 5 * n,
                               bias: bias == nil ? nil : UnsafePointer(s + 6 * n), hasNegative: r.negative != nil,
                               hasLeftShift: hasLeft, offset: r.offset, clampMin: r.clampMin, clampMax: r.clampMax,
                               boundedInputs: inputBound < boundedRequantLimit)
    }

    /// One multiplier for every lane (add, mul, reduce_mean, sqrt, concat's sources).
    convenience init(single m: QuantMultiplier, clampMin: Int32, clampMax: Int32) {
        self.init(Requantization(positive: [m], clampMin: clampMin, clampMax: clampMax), paddedChannels: 8, bias: nil) { _ in 0 }
    }

    deinit { storage.deallocate() }
}
