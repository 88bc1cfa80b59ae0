import Foundation

/// Worker threads when the user does not say: one per core the process may use.
public func defaultThreadCount() -> Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

/// Splits 0..<count into `threads` contiguous ranges and runs them concurrently
/// (contiguous, so each thread walks its own rows and keeps them in its core's cache).
/// Which range a thread gets never changes what is computed: callers give each index its
/// own output, so results are identical for every thread count.
public func parallelRanges(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
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
