import Foundation

/// Writes via a temporary file in the same directory and a rename, so a reader never sees
/// a half-written output and a failed run leaves no file behind.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    do { try Data(bytes).write(to: url, options: .atomic) } catch { throw CLIError("cannot write \(path): \(error.localizedDescription)") }
}
