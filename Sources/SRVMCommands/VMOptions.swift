import ArgumentParser
import QSRFormat
import SRRuntime
import SRVM

extension KernelSet: ExpressibleByArgument {}

/// `--threads` and `--kernels`, shared by `srvm run` and `srvm bench`.
public struct VMOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Worker threads (default: all cores, \(defaultThreadCount()) here). The output never depends on it.",
                               valueName: "n"))
    public var threads: Int?

    @Option(help: ArgumentHelp("""
        Kernel set: reference (the scalar oracle of SPEC.md §5.3, slow), best (the fastest this CPU \
        supports: amx, else avx512, else vnni, else avx2, else portable), portable (plain Swift, any CPU), \
        avx2, vnni (AVX2 + AVX-VNNI), avx512 (AVX-512 VNNI) or amx (AVX-512 with AMX-INT8 conv tiles): \
        an error on a CPU without them. All compute identical outputs.
        """, valueName: "set"))
    public var kernels: KernelSet = .best

    public init() {}

    public func validate() throws {
        try checkThreads(threads)
    }

    /// A VM for `program` with these options (a forced kernel set the CPU lacks is a CLIError).
    public func machine(for program: Program) throws -> VirtualMachine {
        try wrapVM { try VirtualMachine(program: program, kernels: kernels, threads: threads) }
    }
}
