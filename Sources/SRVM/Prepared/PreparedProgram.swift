import FixedPoint
import QSRFormat
import SRImage
import SRRuntime
import SRVMKernelsCommon

/// A program prepared once for the fast kernels: every conv packed (PreparedConv), every
/// requantize's per-channel lanes built. Running it places values in buffers (BufferPlan, reused from run to run) in the pixel
/// layout and executes the instructions in order, each split into row bands across threads.
final class PreparedProgram {
    let program: Program
    let isa: PreparedISA
    private var convs: [Int: PreparedConv] = [:]
    private var requants: [Int: RequantTableStorage] = [:]
    private let constants: [[Int32]]
    /// Each value's proven range (provenValueRanges): the add and mul kernels' operand bounds.
    private let ranges: [ClosedRange<Int32>]
    private func magnitude(_ v: ValueID) -> Int64 { ranges[Int(v)].magnitude }
    /// A depth_to_space right before output_pixels, read by nothing else: it is skipped and
    /// output_pixels gathers its pixels straight from the depth_to_space source (index of the
    /// depth_to_space instruction).
    private var fusedDepthToSpace: Int?
    /// Requantizes run together with the instruction that makes their source, a few rows at a
    /// time (producer index -> requantize indices), so they read its rows from cache instead of
    /// from memory: the requantize right after an add of same-size operands, and those right
    /// after a conv (with only slices read in place between) that read the conv's result or a
    /// slice of it. The producer's result is still stored whole (other instructions read it).
    private var bandedRequantizes: [Int: [Int]] = [:]
    /// requantize index -> its producer's index.
    private var bandedProducer: [Int: Int] = [:]
    var bandedRequantizeCount: Int { bandedProducer.count }

    /// `amx`: convs run on AMX tiles where they cover the conv (kernel set `amx`).
    init(program p: Program, isa: PreparedISA, amx: Bool = false) {
        program = p; self.isa = isa
        constants = p.constants.map(\.values)
        let ranges = provenValueRanges(p)
        self.ranges = ranges
        let n = p.instructions.count
        for (k, ins) in p.instructions.enumerated() {
            guard case let .sliceChannels(d, _, _) = ins else { continue }
            // Readers that address pixels through their layout's stride (a conv's tiles read
            // whole quads/pairs past a view's last channel only against zero weights). The
            // buffer plan keeps the source alive until the view's last reader.
            let readers = p.instructions.filter { $0.sources.contains(d) }
            if !readers.isEmpty && readers.allSatisfy({ r in
                switch r { case .requantize, .concat, .conv: return true; default: return false }
            }) { viewSlices.insert(k) }
        }
        // Concat sources a conv can store straight into the concat's buffer: copied (no
        // multiplier), clamp bounds that cannot bind on the conv's results, read by nothing else.
        for (k, ins) in p.instructions.enumerated() {
            guard case let .concat(d, sources, ms, lo, hi) = ins else { continue }
            let dt = p.values[Int(d)].type.range
            var offset = 0
            for (s, m) in zip(sources, ms) {
                defer { offset += Int(p.values[Int(s)].channels) }
                guard m == nil, lo >= dt.lowerBound, hi <= dt.upperBound, sources.filter({ $0 == s }).count == 1,
                      let j = p.instructions.firstIndex(where: { $0.destination == s }),
                      case let .conv(_, _, _, _, _, _, r, _) = p.instructions[j], r.clampMin >= lo, r.clampMax <= hi,
                      p.instructions.indices.allSatisfy({ $0 == k || !p.instructions[$0].sources.contains(s) })
                else { continue }
                concatParts[s] = (d, offset)
            }
        }
        if n >= 2, case let .depthToSpace(d, _, _, _) = p.instructions[n - 2], case let .outputPixels(o) = p.instructions[n - 1], d == o {
            fusedDepthToSpace = n - 2
        }
        // A depth_to_space of a conv's result, read by nothing else: the conv stores each block
        // of 8 channels at its sub-pixel (its output channels permuted from CRD to DCR order
        // at prepare time), and the depth_to_space does nothing.
        for (k, ins) in p.instructions.enumerated() {
            guard case let .depthToSpace(d, src, b, crd) = ins, k != fusedDepthToSpace,
                  Int(p.values[Int(d)].channels) % 32 == 0,
                  let j = p.instructions.firstIndex(where: { $0.destination == src }),
                  case let .conv(_, _, q, _, _, _, _, _) = p.instructions[j], q.group == 1,
                  p.instructions.indices.allSatisfy({ $0 == k || !p.instructions[$0].sources.contains(src) })
            else { continue }
            spaceFolds[j] = (k, d, Int(b), crd)
            foldedDepthToSpaces.insert(k)
        }
        for k in viewSlices { if case let .sliceChannels(d, src, start) = p.instructions[k] { sliceViews[d] = (src, Int(start)) } }
        for k in 0..<max(0, n - 1) {
            switch p.instructions[k] {
            case let .add(d, a, b, _, _, _, _, _, _, _):
                guard case let .requantize(_, src, _) = p.instructions[k + 1], src == d,
                      [a, b].allSatisfy({ p.values[Int($0)].height == p.values[Int(d)].height && p.values[Int($0)].width == p.values[Int(d)].width })
                else { continue }
                bandedRequantizes[k] = [k + 1]
            case let .conv(d, _, _, _, _, _, _, _) where spaceFolds[k] == nil && concatParts[d] == nil:
                // The conv's result and the slices of it read in place; requantizes of those,
                // until the first other instruction.
                var readable: Set<ValueID> = [d], list: [Int] = []
                var j = k + 1
                scan: while j < n {
                    switch p.instructions[j] {
                    case let .sliceChannels(v, src, _) where viewSlices.contains(j) && readable.contains(src): readable.insert(v)
                    case let .requantize(_, src, _) where readable.contains(src): list.append(j)
                    default: break scan
                    }
                    j += 1
                }
                if !list.isEmpty { bandedRequantizes[k] = list }
            default: continue
            }
            for r in bandedRequantizes[k] ?? [] { bandedProducer[r] = k }
        }
        // A split concat's buffer is allocated by the first conv that stores into it.
        for (i, ins) in p.instructions.enumerated() {
            if let d = ins.destination, let (whole, _) = concatParts[d], concatAllocation[whole] == nil { concatAllocation[whole] = i }
        }
        findSiblingConvs(ranges: ranges, amx: amx)
        if amx { splitGroupPairs(ranges: ranges) }
        for (i, ins) in p.instructions.enumerated() {
            switch ins {
            case let .conv(_, src, q, w, _, b, r, pad) where groupPairs[i] == nil:
                var (weights, bias, requant) = (p.constants[Int(w)].values, p.constants[Int(b)].values, r)
                if let f = spaceFolds[i], f.crd {
                    // Output channel c'·b² + sub becomes sub·C' + c': each sub-pixel's channels contiguous.
                    let sub = f.block * f.block, cOut = Int(q.outputChannels) / sub
                    let order = (0..<Int(q.outputChannels)).map { n in (n % cOut) * sub + n / cOut }
                    (weights, bias, requant) = permuteOutputs(weights, bias, requant, order: order)
                }
                convs[i] = PreparedConv(params: q, weights: weights, bias: bias,
                                        requant: requant, padValues: pad.map { p.constants[Int($0)].values },
                                        source: p.values[Int(src)], sourceRange: ranges[Int(src)], isa: isa, amx: amx)
            case let .requantize(dst, src, r):
                let c = Int(p.values[Int(dst)].channels)
                requants[i] = RequantTableStorage(r, paddedChannels: (c + 7) / 8 * 8, bias: nil, inputBound: ranges[Int(src)].magnitude) { $0 < c ? $0 : nil }
            default: break
            }
        }
    }

    /// slice_channels instructions read in place: their destination is a view (the source's
    /// buffer at the slice's first channel, the source's stride). Only where every reader is a
    /// requantize, concat or conv (kernels that take any stride) and nothing writes the source's slot
    /// from the slice to the view's last reader.
    private var viewSlices: Set<Int> = []
    /// Conv results stored straight into a concat's buffer: value -> (the concat's destination,
    /// first channel). The concat copies only its other sources.
    private var concatParts: [ValueID: (ValueID, Int)] = [:]
    /// Convs that store through the depth_to_space after them: conv index -> (depth_to_space
    /// index, its destination, block, CRD).
    private var spaceFolds: [Int: (index: Int, dst: ValueID, block: Int, crd: Bool)] = [:]
    var depthToSpaceFoldCount: Int { spaceFolds.count }
    /// The depth_to_space instructions of `spaceFolds` (they do nothing).
    private var foldedDepthToSpaces: Set<Int> = []
    /// The destinations of `viewSlices`: view -> (its source, first channel).
    private var sliceViews: [ValueID: (ValueID, Int)] = [:]
    /// Concats that convs store into: destination -> the instruction that allocates it.
    private var concatAllocation: [ValueID: Int] = [:]
    var concatPartCount: Int { concatParts.count }
    /// Sibling convs run as one (see `findSiblingConvs`): first conv's index -> the conv over all
    /// their outputs and its channel count. Only when values are not kept (they are concat parts).
    private var siblingConvs: [Int: (conv: PreparedConv, channels: Int)] = [:]
    /// The other convs of each sibling group: they do nothing.
    private var siblingFollowers: Set<Int> = []
    /// First conv's index -> every member's index.
    private(set) var siblingGroups: [Int: [Int]] = [:]

    /// Grouped convs run as convs of two groups each on channel views (AMX): conv index -> each
    /// part with its first input and output channel.
    private var groupPairs: [Int: [(conv: PreparedConv, input: Int, output: Int)]] = [:]
    var groupPairCount: Int { groupPairs.count }

    /// On AMX a grouped conv of 4 or more groups of at most 8 channels (XLSR's 32 -> 32 in 4
    /// groups) would run dense, most of its products with zero weights; as convs of two groups
    /// each (16 channels, dense within: merged kernel rows of 3 x 16 bytes, one K step) on views
    /// of its source and result it does half the tile products of the dense conv. Each output
    /// channel sums the same products: the same bytes.
    private func splitGroupPairs(ranges: [ClosedRange<Int32>]) {
        let p = program
        for (i, ins) in p.instructions.enumerated() {
            guard case let .conv(d, src, q, w, _, b, r, pad) = ins else { continue }
            let G = Int(q.group), cg = Int(q.inputChannels) / max(G, 1), og = Int(q.outputChannels) / max(G, 1)
            guard G >= 4, G % 2 == 0, cg <= 8, q.dilationX == 1, q.kernelWidth > 1, spaceFolds[i] == nil, concatParts[d] == nil
            else { continue }
            let weights = p.constants[Int(w)].values, bias = p.constants[Int(b)].values
            let pads = pad.map { p.constants[Int($0)].values }
            let perOutput = cg * Int(q.kernelHeight * q.kernelWidth)
            func slice(_ m: [QuantMultiplier], _ o: Int) -> [QuantMultiplier] { m.count == 1 ? m : Array(m[o..<(o + 2 * og)]) }
            var parts: [(PreparedConv, Int, Int)] = []
            for pair in 0..<(G / 2) {
                let ci = 2 * pair * cg, co = 2 * pair * og
                var part = q
                part.outputChannels = Int32(2 * og); part.inputChannels = Int32(2 * cg); part.group = 2
                let requant = Requantization(positive: slice(r.positive, co), negative: r.negative.map { slice($0, co) },
                                             clampMin: r.clampMin, clampMax: r.clampMax, offset: r.offset)
                let conv = PreparedConv(params: part, weights: Array(weights[(co * perOutput)..<((co + 2 * og) * perOutput)]),
                                        bias: Array(bias[co..<(co + 2 * og)]), requant: requant,
                                        padValues: pads.map { Array($0[ci..<(ci + 2 * cg)]) }, source: p.values[Int(src)],
                                        sourceRange: ranges[Int(src)], isa: isa, amx: true)
                guard conv.amxPlan?.mergesRows == true else { parts = []; break }
                parts.append((conv, ci, co))
            }
            if !parts.isEmpty { groupPairs[i] = parts }
        }
    }

    /// Consecutive convs of one source with the same geometry, pads, output type, clamp and offset,
    /// whose results are consecutive parts of one concat (XLSR's four 3 -> 8 heads): one conv with
    /// their weights, biases and per-channel multipliers end to end computes the same bytes,
    /// reading the source once and filling whole vectors in the epilogue (8-channel convs fill half).
    private func findSiblingConvs(ranges: [ClosedRange<Int32>], amx: Bool) {
        let p = program, n = p.instructions.count
        func padValues(_ c: ConstantID?) -> [Int32]? { c.map { p.constants[Int($0)].values } }
        func sameGeometry(_ a: ConvParameters, _ b: ConvParameters) -> Bool {
            var a = a
            a.outputChannels = b.outputChannels
            return a == b
        }
        var k = 0
        while k < n {
            guard case let .conv(d0, src, q0, _, _, _, r0, pad0) = p.instructions[k], q0.group == 1,
                  let (whole, first) = concatParts[d0] else { k += 1; continue }
            var members = [k], next = first + Int(q0.outputChannels), j = k + 1
            while j < n, case let .conv(d, s, q, _, _, _, r, pad) = p.instructions[j], s == src,
                  sameGeometry(q, q0), padValues(pad) == padValues(pad0),
                  r.clampMin == r0.clampMin, r.clampMax == r0.clampMax, r.offset == r0.offset, (r.negative == nil) == (r0.negative == nil),
                  p.values[Int(d)].type == p.values[Int(d0)].type, let (w, at) = concatParts[d], w == whole, at == next {
                members.append(j); next += Int(q.outputChannels); j += 1
            }
            k = j
            guard members.count > 1 else { continue }
            var weights: [Int32] = [], bias: [Int32] = [], positive: [QuantMultiplier] = [], negative: [QuantMultiplier] = []
            for m in members {
                guard case let .conv(_, _, q, w, _, b, r, _) = p.instructions[m] else { continue }
                let o = Int(q.outputChannels)
                weights += p.constants[Int(w)].values; bias += p.constants[Int(b)].values
                positive += r.positive.count == 1 ? Array(repeating: r.positive[0], count: o) : r.positive
                if let neg = r.negative { negative += neg.count == 1 ? Array(repeating: neg[0], count: o) : neg }
            }
            let channels = next - first
            let requant = Requantization(positive: positive, negative: r0.negative == nil ? nil : negative,
                                         clampMin: r0.clampMin, clampMax: r0.clampMax, offset: r0.offset)
            var params = q0
            params.outputChannels = Int32(channels)
            let conv = PreparedConv(params: params, weights: weights, bias: bias,
                                    requant: requant, padValues: padValues(pad0), source: p.values[Int(src)],
                                    sourceRange: ranges[Int(src)], isa: isa, amx: amx)
            siblingConvs[members[0]] = (conv, channels)
            siblingGroups[members[0]] = members
            siblingFollowers.formUnion(members.dropFirst())
        }
    }
    var viewSliceCount: Int { viewSlices.count }

    /// The last run's buffers, reused by the next run of the same size: fresh allocations of
    /// tens of MiB come from the kernel as zeroed pages, faulted in again on every run.
    private let bufferCache = BufferCache()

    /// The prepared convs in program order (a grouped conv run as pairs of groups: its parts).
    var preparedConvs: [PreparedConv] {
        (Array(convs.keys) + Array(groupPairs.keys)).sorted().flatMap { groupPairs[$0]?.map(\.conv) ?? [convs[$0]!] }
    }

    /// Where each value lives for this input size (views and the folded depth_to_space only
    /// when `folds`; `runRaw` captures every value, so it runs without them).
    func bufferPlan(shapes: [(c: Int, h: Int, w: Int)], folds: Bool) -> BufferPlan {
        let p = program
        var root = [ValueID](p.values.indices.map { ValueID($0) })
        for k in viewSlices.sorted() where folds {
            if case let .sliceChannels(d, src, _) = p.instructions[k] { root[Int(d)] = root[Int(src)] }
        }
        return BufferPlan(valueCount: p.values.count, instructionCount: p.instructions.count,
                          valueBytes: { v in
                              let s = shapes[Int(v)]
                              return PixelLayout(channels: s.c, height: s.h, width: s.w, type: p.values[Int(v)].type).byteCount
                          },
                          reads: { i in
                              let ins = p.instructions[i]
                              // A requantize run in bands with its producer (an add or a conv) writes
                              // while the producer still reads: the producer's sources stay live through it.
                              if folds, let k = self.bandedProducer[i] {
                                  return (ins.sources + p.instructions[k].sources).map { root[Int($0)] }
                              }
                              if folds && i == self.fusedDepthToSpace { return [] }
                              if folds, case .outputPixels = ins, let f = self.fusedDepthToSpace { return p.instructions[f].sources.map { root[Int($0)] } }
                              if folds && self.viewSlices.contains(i) { return [] }
                              if self.foldedDepthToSpaces.contains(i), case let .depthToSpace(d, _, _, _) = ins { return [d] }
                              if folds, case let .concat(d, sources, _, _, _) = ins, sources.contains(where: { self.concatParts[$0] != nil }) {
                                  return sources.filter { self.concatParts[$0] == nil }.map { root[Int($0)] } + [d]
                              }
                              return ins.sources.map { root[Int($0)] }
                          },
                          allocates: { i in
                              if folds && (i == self.fusedDepthToSpace || self.viewSlices.contains(i)) { return [] }
                              if let f = self.spaceFolds[i] { return [f.dst] }
                              if self.foldedDepthToSpaces.contains(i) { return [] }
                              guard let d = p.instructions[i].destination, !(folds && self.sliceViews[d] != nil) else { return [] }
                              if folds, let (whole, _) = self.concatParts[d] { return self.concatAllocation[whole] == i ? [whole] : [] }
                              if folds, case let .concat(_, sources, _, _, _) = p.instructions[i], sources.contains(where: { self.concatParts[$0] != nil }) {
                                  return []
                              }
                              return [d]
                          })
    }

    func execute(_ image: RGBImage, shapes: [(c: Int, h: Int, w: Int)], threads: Int, keep: Bool,
                 profile: InstructionProfile?) throws -> (image: RGBImage, values: [ValueID: [Int32]]) {
        let p = program
        let plan = bufferPlan(shapes: shapes, folds: !keep)
        // Slack past every buffer: a view starts up to its first channel late, and kernels read whole 8-lane blocks.
        let slack = p.instructions.reduce(64) { m, ins in
            if case let .sliceChannels(_, src, start) = ins { return max(m, (Int(start) + 8) * p.values[Int(src)].type.byteWidth + 64) }
            return m
        }
        let buffers = bufferCache.take(bytes: plan.bytes.map { max($0, 64) + slack })
        defer { bufferCache.give(back: buffers, bytes: plan.bytes.map { max($0, 64) + slack }) }
        let layouts = zip(p.values, shapes).map { PixelLayout(channels: $1.c, height: $1.h, width: $1.w, type: $0.type) }
        // Views (slice_channels read in place): value -> (source value, first channel).
        let views = keep ? [:] : sliceViews
        let parts = keep ? [:] : concatParts
        func buf(_ id: ValueID) -> UnsafeMutableRawPointer {
            if let (src, start) = views[id] { return buf(src) + start * layouts[Int(src)].type.byteWidth }
            if let (whole, start) = parts[id] { return buf(whole) + start * layouts[Int(whole)].type.byteWidth }
            return buffers[plan.buffer[Int(id)]!]
        }
        func lay(_ id: ValueID) -> PixelLayout {
            if let (src, _) = views[id] { return PixelLayout(view: layouts[Int(id)].channels, of: lay(src)) }
            if let (whole, _) = parts[id] { return PixelLayout(view: layouts[Int(id)].channels, of: lay(whole)) }
            return layouts[Int(id)]
        }
        var kept: [ValueID: [Int32]] = [:]
        var result: RGBImage?

        for (index, ins) in p.instructions.enumerated() {
            let started = profile != nil ? monotonicSeconds() : 0
            // A slice read in place does nothing.
            let folded = !keep && viewSlices.contains(index)
            // A view, a folded depth_to_space and a conv storing through one have no buffer of their own.
            let noBuffer = folded || (!keep && index == fusedDepthToSpace) || spaceFolds[index] != nil
                || foldedDepthToSpaces.contains(index)
            let dst = noBuffer ? nil : ins.destination.map { buf($0) }
            let dl = ins.destination.map { lay($0) }

            switch ins {
            case .inputPixels:
                inputPixelsHWC(dst: dst!, dl!, image: image, order: p.metadata.channelOrder, threads: threads)
            case let .outputPixels(src):
                if let f = fusedDepthToSpace, case let .depthToSpace(_, inner, b, crd) = p.instructions[f] {
                    result = outputPixelsDepthToSpace(src: buf(inner), lay(inner), block: Int(b), crd: crd, out: lay(src),
                                                      order: p.metadata.channelOrder, threads: threads)
                } else {
                    result = outputPixelsHWC(src: buf(src), lay(src), order: p.metadata.channelOrder)
                }
            case .sliceChannels where folded:
                break   // its readers read the source in place
            case .conv where !keep && siblingFollowers.contains(index):
                break   // the first conv of its sibling group computed its channels
            case let .conv(d, src, _, _, _, _, _, _):
                if !keep, let (conv, channels) = siblingConvs[index], let (whole, _) = parts[d] {
                    conv.run(src: buf(src), srcLayout: lay(src), dst: dst!, dstLayout: PixelLayout(view: channels, of: lay(whole)),
                             isa: isa, threads: threads)
                } else if let parts = groupPairs[index] {
                    let (ls, ld) = (lay(src), dl!)
                    let run = { (conv: PreparedConv, ci: Int, co: Int) in
                        conv.run(src: buf(src) + ci * ls.type.byteWidth, srcLayout: PixelLayout(view: Int(conv.params.inputChannels), of: ls),
                                 dst: dst! + co * ld.type.byteWidth, dstLayout: PixelLayout(view: Int(conv.params.outputChannels), of: ld),
                                 isa: self.isa, threads: threads)
                    }
                    for part in parts { run(part.conv, part.input, part.output) }
                    // Requantizes banded with this conv read every part: they run after the last.
                    for r in keep ? [] : bandedRequantizes[index] ?? [] {
                        guard case let .requantize(rd, rs, _) = p.instructions[r] else { preconditionFailure("banded requantize") }
                        requantizeHWC(dst: buf(rd), lay(rd), src: buf(rs), lay(rs), tables: requants[r]!.tables, isa: isa, threads: threads)
                    }
                } else if let f = spaceFolds[index] {
                    convs[index]!.run(src: buf(src), srcLayout: lay(src), dst: buf(f.dst), dstLayout: dl!, isa: isa, threads: threads,
                                      depthToSpace: (f.block, lay(f.dst)))
                } else if !keep, let list = bandedRequantizes[index] {
                    // Each band of finished rows is requantized by the thread that computed it.
                    let jobs = list.map { r -> (RequantTables, UnsafeRawPointer, PixelLayout, UnsafeMutableRawPointer, PixelLayout) in
                        guard case let .requantize(rd, rs, _) = p.instructions[r] else { preconditionFailure("banded requantize") }
                        return (requants[r]!.tables, UnsafeRawPointer(buf(rs)), lay(rs), buf(rd), lay(rd))
                    }
                    convs[index]!.run(src: buf(src), srcLayout: lay(src), dst: dst!, dstLayout: dl!, isa: isa, threads: threads) { band in
                        for (tables, ps, ls, pd, ld) in jobs {
                            requantizeHWC(dst: pd + ld.bandOffset(band), ld.band(band), src: ps + ls.bandOffset(band), ls.band(band),
                                          tables: tables, isa: self.isa, threads: 1)
                        }
                    }
                } else {
                    convs[index]!.run(src: buf(src), srcLayout: lay(src), dst: dst!, dstLayout: dl!, isa: isa, threads: threads)
                }
            case .depthToSpace where foldedDepthToSpaces.contains(index):
                break   // the conv before it stored through it
            case .requantize where !keep && bandedProducer[index] != nil:
                break   // run with the instruction that makes its source
            case let .add(_, a, b, shift, ma, mb, mo, subtract, lo, hi) where !keep && bandedRequantizes[index] != nil:
                let r = bandedRequantizes[index]![0]
                guard case let .requantize(rd, _, _) = p.instructions[r] else { preconditionFailure("banded requantize") }
                let tables = requants[r]!.tables
                let (la, lb, lr) = (lay(a), lay(b), lay(rd))
                let (pa, pb, pr, pd) = (buf(a), buf(b), buf(rd), dst!)
                let magnitudes = (magnitude(a), magnitude(b))
                // Each thread's rows in bands small enough to stay in its core's cache.
                parallelRows(dl!, threads: threads) { rows in
                    var y = rows.lowerBound
                    while y < rows.upperBound {
                        let band = y..<min(y + 4, rows.upperBound)
                        addHWC(dst: pd + dl!.bandOffset(band), dl!.band(band), a: pa + la.bandOffset(band), la.band(band),
                               b: pb + lb.bandOffset(band), lb.band(band), leftShift: shift, ma: ma, mb: mb, mo: mo,
                               subtract: subtract, lo: lo, hi: hi, magnitudes: magnitudes, isa: isa, threads: 1)
                        requantizeHWC(dst: pr + lr.bandOffset(band), lr.band(band), src: pd + dl!.bandOffset(band), dl!.band(band),
                                      tables: tables, isa: isa, threads: 1)
                        y = band.upperBound
                    }
                }
            case let .requantize(_, src, _):
                requantizeHWC(dst: dst!, dl!, src: buf(src), lay(src), tables: requants[index]!.tables, isa: isa, threads: threads)
            case let .add(_, a, b, shift, ma, mb, mo, subtract, lo, hi):
                addHWC(dst: dst!, dl!, a: buf(a), lay(a), b: buf(b), lay(b), leftShift: shift, ma: ma, mb: mb, mo: mo,
                       subtract: subtract, lo: lo, hi: hi, magnitudes: (magnitude(a), magnitude(b)), isa: isa, threads: threads)
            case let .mul(_, a, b, m, lo, hi):
                mulHWC(dst: dst!, dl!, a: buf(a), lay(a), b: buf(b), lay(b), m: m, lo: lo, hi: hi,
                       magnitudes: (magnitude(a), magnitude(b)), isa: isa, threads: threads)
            case let .concat(d, sources, ms, lo, hi) where sources.contains(where: { parts[$0] != nil }):
                // Convs stored some sources already: copy the others into their channels only.
                var offset = 0
                for (s, m) in zip(sources, ms) {
                    if parts[s] == nil {
                        concatHWC(dst: buf(d) + offset * lay(d).type.byteWidth, PixelLayout(view: lay(s).channels, of: lay(d)),
                                  sources: [(UnsafeRawPointer(buf(s)), lay(s), m)], lo: lo, hi: hi, exact: true, isa: isa, threads: threads)
                    }
                    offset += lay(s).channels
                }
            case let .concat(_, sources, ms, lo, hi):
                concatHWC(dst: dst!, dl!, sources: zip(sources, ms).map { (UnsafeRawPointer(buf($0)), lay($0), $1) }, lo: lo, hi: hi, isa: isa, threads: threads)
            case let .sliceChannels(_, src, start):
                sliceHWC(dst: dst!, dl!, src: buf(src), lay(src), start: Int(start), threads: threads)
            case .depthToSpace where index == fusedDepthToSpace && !keep:
                break   // output_pixels reads through it
            case let .depthToSpace(_, src, b, crd):
                depthToSpaceHWC(dst: dst!, dl!, src: buf(src), lay(src), block: Int(b), crd: crd, threads: threads)
            case let .reduceMean(_, src, m, lo, hi):
                reduceMeanHWC(dst: dst!, dl!, src: buf(src), lay(src), m: m, lo: lo, hi: hi, isa: isa, threads: threads)
            case let .sqrt(_, src, m, lo, hi):
                sqrtHWC(dst: dst!, dl!, src: buf(src), lay(src), m: m, lo: lo, hi: hi, threads: threads)
            case let .lookup(_, src, t):
                try lookupHWC(dst: dst!, dl!, src: buf(src), lay(src), srcMin: p.values[Int(src)].qmin, table: constants[Int(t)])
            }

            if !folded, let d = ins.destination {
                if keep, let f = spaceFolds[index] {
                    kept[d] = beforeDepthToSpace(planar(buf(f.dst), lay(f.dst)), lay(f.dst), block: f.block, crd: f.crd)
                } else if keep {
                    kept[d] = planar(buf(d), lay(d))
                }
            }
            if let profile { profile.seconds[index] += monotonicSeconds() - started }
        }
        guard let result else { throw VMError("the program produced no output") }
        return (result, kept)
    }
}

/// A value in the reference's planar [C,H,W] Int32 order (for comparing kernel sets).
func planar(_ base: UnsafeRawPointer, _ l: PixelLayout) -> [Int32] {
    var out = [Int32](repeating: 0, count: l.channels * l.height * l.width)
    for c in 0..<l.channels {
        for i in 0..<(l.height * l.width) { out[c * l.height * l.width + i] = loadElement(base, i * l.stride + c, l.type) }
    }
    return out
}

func inputPixelsHWC(dst: UnsafeMutableRawPointer, _ d: PixelLayout, image: RGBImage, order: ModelMetadata.ChannelOrder,
                    threads: Int = 1) {
    image.pixels.withUnsafeBufferPointer { px in
        nonisolated(unsafe) let (from, out) = (px.baseAddress!, dst.assumingMemoryBound(to: UInt8.self))
        let first = order == .rgb ? 0 : 2, last = 2 - first
        parallelRanges(d.height, threads: d.height * d.width < 1 << 14 ? 1 : threads) { rows in
            for i in (rows.lowerBound * d.width)..<(rows.upperBound * d.width) {
                let p = from + i &* 3
                // A pixel's 3 bytes and its zero padding channels (the stride is a multiple of 8) in whole words.
                let word = UInt64(p[first]) | UInt64(p[1]) << 8 | UInt64(p[last]) << 16
                let o = UnsafeMutableRawPointer(out + i &* d.stride)
                o.storeBytes(of: word, as: UInt64.self)
                var c = 8
                while c < d.stride { o.storeBytes(of: UInt64(0), toByteOffset: c, as: UInt64.self); c &+= 8 }
            }
        }
    }
}

/// output_pixels of depth_to_space(src): output pixel (y, x) channel c is source pixel
/// (y / b, x / b) channel c·b² + (y % b)·b + x % b (CRD) or ((y % b)·b + x % b)·3 + c (DCR).
func outputPixelsDepthToSpace(src: UnsafeRawPointer, _ s: PixelLayout, block b: Int, crd: Bool, out o: PixelLayout,
                              order: ModelMetadata.ChannelOrder, threads: Int = 1) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: o.height * o.width * 3)
    // The source channel of each (sub-pixel, output byte): RGB bytes in the file's order.
    var offsets = [Int](repeating: 0, count: b * b * 3)
    for sub in 0..<(b * b) {
        for c in 0..<3 { offsets[sub * 3 + (order == .rgb ? c : 2 - c)] = crd ? c * b * b + sub : sub * 3 + c }
    }
    offsets.withUnsafeBufferPointer { off in
        pixels.withUnsafeMutableBufferPointer { out in
            // Source rows split across threads: each writes its own b output rows.
            nonisolated(unsafe) let (o8, k8) = (out.baseAddress!, off.baseAddress!)
            parallelRanges(s.height, threads: s.height * s.width < 1 << 12 ? 1 : threads) { rows in
                for sy in rows {
                    for i in 0..<b {
                        let rowOut = (sy &* b &+ i) &* o.width
                        if s.type == .u8 {
                            // Sub-pixel column by sub-pixel column: its 3 source channels fixed, the
                            // source and output pointers stepping along the row.
                            let row = src.assumingMemoryBound(to: UInt8.self) + sy &* s.width &* s.stride
                            for j in 0..<b {
                                let k = k8 + (i &* b &+ j) &* 3
                                let (k0, k1, k2) = (k[0], k[1], k[2])
                                var p = row, dst = o8 + (rowOut &+ j) &* 3
                                for _ in 0..<s.width {
                                    dst[0] = p[k0]; dst[1] = p[k1]; dst[2] = p[k2]
                                    p += s.stride; dst += b &* 3
                                }
                            }
                        } else {
                            for sx in 0..<s.width {
                                let base = (sy * s.width + sx) * s.stride
                                for j in 0..<b {
                                    let dst = (rowOut + sx * b + j) * 3, k = (i * b + j) * 3
                                    for c in 0..<3 { o8[dst + c] = UInt8(truncatingIfNeeded: loadElement(src, base + k8[k + c], s.type)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: o.width, height: o.height, pixels: pixels)
}

func outputPixelsHWC(src: UnsafeRawPointer, _ s: PixelLayout, order: ModelMetadata.ChannelOrder) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: s.height * s.width * 3)
    if s.type == .u8 {
        // The usual case: u8 values, already clamped to 0...255 by their producer.
        let bytes = src.assumingMemoryBound(to: UInt8.self), stride = s.stride
        let (r, b) = order == .rgb ? (0, 2) : (2, 0)
        pixels.withUnsafeMutableBufferPointer { out in
            for i in 0..<(s.height * s.width) {
                let p = bytes + i * stride
                out[i * 3] = p[r]; out[i * 3 + 1] = p[1]; out[i * 3 + 2] = p[b]
            }
        }
        return RGBImage(width: s.width, height: s.height, pixels: pixels)
    }
    for i in 0..<(s.height * s.width) {
        for c in 0..<3 {
            pixels[i * 3 + (order == .rgb ? c : 2 - c)] = UInt8(truncatingIfNeeded: loadElement(src, i * s.stride + c, s.type))
        }
    }
    return RGBImage(width: s.width, height: s.height, pixels: pixels)
}

/// A conv's weights [O][...], bias and per-channel requantization with output channel n taken
/// from channel order[n].
func permuteOutputs(_ w: [Int32], _ bias: [Int32], _ r: Requantization, order: [Int]) -> ([Int32], [Int32], Requantization) {
    let per = w.count / order.count
    var weights = [Int32](); weights.reserveCapacity(w.count)
    for o in order { weights.append(contentsOf: w[(o * per)..<((o + 1) * per)]) }
    var q = r
    if q.positive.count > 1 { q.positive = order.map { r.positive[$0] } }
    if let n = r.negative, n.count > 1 { q.negative = order.map { n[$0] } }
    return (weights, order.map { bias[$0] }, q)
}

/// The source of a depth_to_space, planar [C·b², H/b, W/b], recovered from its planar result
/// (runRaw's record of a conv that stored through it).
func beforeDepthToSpace(_ v: [Int32], _ d: PixelLayout, block b: Int, crd: Bool) -> [Int32] {
    let C = d.channels, H = d.height / b, W = d.width / b
    var out = [Int32](repeating: 0, count: v.count)
    for c in 0..<C {
        for i in 0..<b {
            for j in 0..<b {
                let s = crd ? c * b * b + i * b + j : (i * b + j) * C + c
                for y in 0..<H {
                    for x in 0..<W { out[(s * H + y) * W + x] = v[(c * d.height + y * b + i) * d.width + x * b + j] }
                }
            }
        }
    }
    return out
}
