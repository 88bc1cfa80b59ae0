import ArgumentParser
import Foundation
import SRImage
import SRVM

/// VM and format errors become user-facing CLI errors.
public func wrapVM<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as VMError { throw CLIError(e.description) }
}

/// Reads any PNG as 8-bit RGB; a missing or malformed file is a `CLIError` naming it.
public func readPNG(_ path: String) throws -> RGBImage {
    guard FileManager.default.fileExists(atPath: path) else { throw CLIError("\(path): no such file") }
    do { return try PNG.read(path: path) } catch { throw CLIError("\(path): \(error)") }
}

/// Writes 8-bit RGB PNG atomically (no partial file on failure); errors name the file.
public func writePNG(_ image: RGBImage, to path: String) throws {
    do { try PNG.write(image, path: path) } catch { throw CLIError("\(path): \(error)") }
}

/// `WxH` (e.g. `256x256`, `1920X1080`) with positive sizes, or nil.
public func parseSize(_ s: String) -> (width: Int, height: Int)? {
    let parts = s.lowercased().split(separator: "x", omittingEmptySubsequences: false)
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
    return (w, h)
}

/// `--threads` in a command's `validate()`: nil means one per core; below 1 is a usage error.
public func checkThreads(_ threads: Int?) throws {
    if let threads, threads < 1 {
        throw ValidationError("--threads must be at least 1 (got \(threads)); leave it out to use all cores")
    }
}
