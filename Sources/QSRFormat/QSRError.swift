/// Why a .qsr file or a `Program` was rejected: where (section, instruction index and
/// mnemonic, value or constant) and what. Every reader and validator failure is one of these.
public struct QSRError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ message: String) { description = message }
}
