import SRRuntime
import CFloatControl

/// Elementwise work below this many elements is not worth waking another thread for.
let parallelElementThreshold = 1 << 16

/// `parallelRanges` with each worker flushing denormals to zero (FTZ/DAZ) while it runs, as
/// the usual fp32 inference engines do. Denormals show up in real checkpoints' activations
/// (IMDN's: its 3x3 convs ran 2.2x slower on microcode assists); flushing them changes values
/// below 1.2e-38 only. The worker's previous mode is restored afterwards.
func parallelRangesFlushingDenormals(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    parallelRanges(count, threads: threads) { range in
        let saved = srcc_enable_flush_denormals()
        defer { srcc_restore_float_control(saved) }
        body(range)
    }
}
