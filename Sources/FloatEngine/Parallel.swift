import Foundation

/// Splits 0..<count into `threads` contiguous ranges and runs them concurrently
/// (contiguous, so each thread walks its own rows and keeps them in its core's cache).
func parallelRanges(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    let parts = max(1, min(threads, count))
    if parts == 1 { body(0..<count); return }
    // Each range is disjoint and the call returns only when all are done, so sharing the
    // (non-Sendable) body across the workers is safe.
    withoutActuallyEscaping(body) { escapable in
        nonisolated(unsafe) let work = escapable
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = count * p / parts, hi = count * (p + 1) / parts
            if lo < hi { work(lo..<hi) }
        }
    }
}

/// Elementwise work below this many elements is not worth waking another thread for.
let parallelElementThreshold = 1 << 16
