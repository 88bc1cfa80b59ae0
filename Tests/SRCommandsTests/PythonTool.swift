import Foundation
import XCTest

/// Runs one of the repo's Python reference scripts (ONNX Runtime, Pillow). CI installs
/// their packages (scripts/setup); a missing package is a failure, not a skip.
enum PythonTool {
    @discardableResult
    static func run(_ script: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", SharedData.packageRoot.appendingPathComponent("scripts/\(script)").path] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw XCTestError(.failureWhileWaiting, userInfo: ["stderr": String(decoding: errData, as: UTF8.self)])
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func readFloats(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
