/// A user-facing failure: printed as `Error: <message>` and exits non-zero.
public struct CLIError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
