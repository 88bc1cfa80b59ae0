import Foundation
import QSRFormat

/// Where the prepared engine keeps each value: buffers placed by liveness at the VM's own
/// layout, instead of the file's slots. The file's plan lets an instruction write over a
/// source that dies there (a copy through scratch memory for the fast kernels, which read and
/// write different pixels) and knows nothing of views; this plan never shares a buffer between
/// an instruction's sources and its destination, and a view keeps its source alive until the
/// view's last reader.
struct BufferPlan {
    /// Buffer of each value (nil: a view, or a value nothing writes).
    let buffer: [Int?]
    /// Bytes of each buffer: the largest value placed in it.
    let bytes: [Int]

    /// `reads(i)`: the values instruction i reads or writes in a buffer allocated earlier (views
    /// resolved to their sources; a concat its own destination when convs wrote parts of it);
    /// `allocates(i)`: the values whose buffers instruction i needs first (none for a view or a
    /// no-op; a concat's destination at the first conv that stores into it).
    init(valueCount: Int, instructionCount: Int, valueBytes: (ValueID) -> Int,
         reads: (Int) -> [ValueID], allocates: (Int) -> [ValueID]) {
        var lastUse = [Int](repeating: -1, count: valueCount)
        for i in 0..<instructionCount {
            for v in reads(i) { lastUse[Int(v)] = max(lastUse[Int(v)], i) }
        }
        var buffer = [Int?](repeating: nil, count: valueCount)
        var bytes: [Int] = []
        var free: [Int] = []
        // Values whose buffer is freed after instruction i.
        var dying = [[Int]](repeating: [], count: instructionCount)
        for i in 0..<instructionCount {
            for d in allocates(i) {
                let need = valueBytes(d)
                // Best fit among the free buffers: the smallest that holds it, else the largest (grown).
                let fits = free.filter { bytes[$0] >= need }
                let pick = fits.min { bytes[$0] < bytes[$1] } ?? free.max { bytes[$0] < bytes[$1] }
                let b: Int
                if let pick {
                    b = pick; free.removeAll { $0 == pick }; bytes[b] = max(bytes[b], need)
                } else {
                    b = bytes.count; bytes.append(need)
                }
                buffer[Int(d)] = b
                // A value nothing reads dies where it is written (its buffer is free again after i).
                dying[max(i, lastUse[Int(d)])].append(b)
            }
            free.append(contentsOf: dying[i])
        }
        self.buffer = buffer; self.bytes = bytes
    }
}

/// One set of activation buffers kept between runs (a run that finds it taken or of another
/// size allocates its own; the set given back last is kept).
final class BufferCache: @unchecked Sendable {
    private let lock = NSLock()
    private var buffers: [UnsafeMutableRawPointer] = []
    private var bytes: [Int] = []

    func take(bytes wanted: [Int]) -> [UnsafeMutableRawPointer] {
        lock.lock(); defer { lock.unlock() }
        if wanted == bytes {
            let b = buffers
            buffers = []; bytes = []
            return b
        }
        return wanted.map { UnsafeMutableRawPointer.allocate(byteCount: $0, alignment: 64) }
    }

    func give(back b: [UnsafeMutableRawPointer], bytes given: [Int]) {
        lock.lock(); defer { lock.unlock() }
        for old in buffers { old.deallocate() }
        buffers = b; bytes = given
    }

    deinit { for b in buffers { b.deallocate() } }
}
