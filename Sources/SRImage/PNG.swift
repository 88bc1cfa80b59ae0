#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The PNG codec's entry points.
public enum PNG {
    /// Full-precision decode of any valid PNG (all colour types and bit depths, PLTE, tRNS,
    /// Adam7). Throws `PNGError` for anything malformed; never traps on bad input.
    public static func decode(_ bytes: [UInt8]) throws -> PNGImage {
        try PNGDecoder.decode(bytes)
    }

    /// Decode to the pipeline's 8-bit RGB: gray becomes R = G = B, alpha and tRNS are dropped
    /// (not composited), and 16-bit samples are reduced to their high byte (v >> 8), as Pillow
    /// does for 16-bit colour images. Same result as `decode(bytes).rgbImage()`, faster.
    public static func decodeRGB(_ bytes: [UInt8]) throws -> RGBImage {
        try PNGDecoder.decodeRGB(bytes)
    }

    /// 8-bit RGB, non-interlaced, per-row adaptive filtering, zlib level 6.
    /// The image must not be empty (PNG has no 0-pixel images).
    public static func encode(_ image: RGBImage) -> [UInt8] {
        PNGEncoder.encode(image)
    }

    public static func read(path: String) throws -> RGBImage {
        try decodeRGB(PNGFile.readAll(path: path))
    }

    /// Encodes and writes atomically: a temporary file in the same directory, then rename(2),
    /// so readers never see a partial file.
    public static func write(_ image: RGBImage, path: String) throws {
        guard image.width > 0 && image.height > 0 else {
            throw PNGError.io(path: path, message: "cannot write an empty \(image.width)x\(image.height) image")
        }
        try PNGFile.writeAtomically(encode(image), path: path)
    }
}

/// Minimal POSIX file I/O for the codec.
enum PNGFile {
    static func errnoMessage() -> String { String(cString: strerror(errno)) }

    static func readAll(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw PNGError.io(path: path, message: "cannot open: \(errnoMessage())") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PNGError.io(path: path, message: "read failed: \(errnoMessage())")
            }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    static func writeAtomically(_ bytes: [UInt8], path: String) throws {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let tmp = "\(dir).\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw PNGError.io(path: tmp, message: "cannot create: \(errnoMessage())") }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { posixWrite(fd, $0.baseAddress.map { $0 + written }, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let msg = errnoMessage()
                close(fd)
                throw PNGError.io(path: tmp, message: "write failed: \(msg)")
            }
            written += n
        }
        guard close(fd) == 0 else { throw PNGError.io(path: tmp, message: "close failed: \(errnoMessage())") }
        guard rename(tmp, path) == 0 else {
            throw PNGError.io(path: path, message: "rename from \(tmp) failed: \(errnoMessage())")
        }
        ok = true
    }
}

@inline(__always)
private func posixRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, buf, n)
    #else
    return Darwin.read(fd, buf, n)
    #endif
}

@inline(__always)
private func posixWrite(_ fd: Int32, _ buf: UnsafeRawPointer?, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buf, n)
    #else
    return Darwin.write(fd, buf, n)
    #endif
}
