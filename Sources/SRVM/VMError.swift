import QSRFormat

/// A failure while running a program (image too small, inconsistent shapes, a value outside
/// a table): the VM throws these instead of computing garbage.
public struct VMError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ message: String) { description = message }
}
