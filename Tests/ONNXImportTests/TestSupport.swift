import Foundation
import XCTest

/// Paths and process helpers shared by the import tests.
enum TestSupport {
    /// The package root: three levels up from this file (Tests/ONNXImportTests/TestSupport.swift).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var shared: URL { root.appendingPathComponent("../shared").standardizedFileURL }

    /// ../shared/models, or XCTSkip when the shared data is not checked out next to the package.
    static func sharedModels() throws -> URL {
        let dir = shared.appendingPathComponent("models")
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("\(dir.path) is absent: the shared pretrained models are not available in this checkout")
        }
        return dir
    }

    /// Searches PATH for an executable.
    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct Output { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ executable: String, _ arguments: [String], cwd: URL? = nil) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let cwd { p.currentDirectoryURL = cwd }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read before waiting so a full pipe cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// python3 with the onnx package, or a failure telling how to get it (CI installs it).
    static func pythonWithONNX() throws -> String {
        guard let python = which("python3") else {
            XCTFail("python3 is not on PATH; install python3 with the onnx and numpy packages (pip install onnx numpy)")
            throw SetupFailure("python3 missing")
        }
        let probe = try run(python, ["-c", "import onnx, numpy"])
        guard probe.status == 0 else {
            XCTFail("the python onnx package is missing; install it with `pip install onnx numpy` (CI installs it)\n\(probe.stderr)")
            throw SetupFailure("onnx missing")
        }
        return python
    }

    static func python(_ python: String, script: String, _ arguments: [String] = []) throws -> String {
        let r = try run(python, ["-c", script] + arguments)
        guard r.status == 0 else { throw NSError(domain: "python", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
        return r.stdout
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("srcc-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
}

/// A missing tool the suite needs (CI installs it): the test fails, it is not skipped.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
