import XCTest
import Foundation
import QSRFormat
import SRImage
import SRVM
import SRVMCommands

/// The srvm commands as a user calls them, on a program written by the test (Fixtures'
/// every-instruction program: all twelve instruction kinds, int4 and int8 weights).
final class SrvmCommandTests: XCTestCase {
    var tmp: URL!
    var model: String!
    let program = Fixtures.everyInstruction()

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("srvm-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        model = tmp.appendingPathComponent("every.qsr").path
        try Data(encode(program)).write(to: URL(fileURLWithPath: model))
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func srvm(_ args: [String]) throws {
        var command = try SrvmCommand.parseAsRoot(args)
        try command.run()
    }

    /// What the command prints to standard output (fd 1 redirected to a file while it runs).
    func output(of args: [String]) throws -> String {
        let path = tmp.appendingPathComponent("stdout-\(UUID().uuidString).txt").path
        FileManager.default.createFile(atPath: path, contents: nil)
        fflush(nil)
        let saved = dup(STDOUT_FILENO), fd = open(path, O_WRONLY | O_TRUNC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        dup2(fd, STDOUT_FILENO)
        close(fd)
        defer { fflush(nil); dup2(saved, STDOUT_FILENO); close(saved) }
        try srvm(args)
        fflush(nil)
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    /// The message the command line prints for a parse or validation error.
    func usageError(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try srvm(args)
            XCTFail("srvm \(args.joined(separator: " ")) was accepted", file: file, line: line)
            return ""
        } catch {
            return SrvmCommand.message(for: error)
        }
    }

    func testBenchJSON() throws {
        let text = try output(of: ["bench", model, "--size", "64x48", "--runs", "3", "--threads", "2", "--json"])
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one JSON object on one line: \(text)")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        XCTAssertEqual(Set(object.keys), ["model", "size", "threads", "kernels", "cpu", "runs", "min_ms", "median_ms", "gmacs",
                                          "gmac_per_s", "peak_activation_bytes", "kinds"])
        XCTAssertEqual(object["model"] as? String, "every.qsr")
        XCTAssertEqual(object["size"] as? String, "64x48")
        XCTAssertEqual(object["threads"] as? Int, 2)
        XCTAssertEqual(object["runs"] as? Int, 3)
        let vm = try VirtualMachine(program: program, kernels: .best)
        XCTAssertEqual(object["kernels"] as? String, vm.kernels.rawValue, "the set --kernels best chose")
        XCTAssertNotEqual(object["kernels"] as? String, "best")
        XCTAssertFalse((object["cpu"] as? String ?? "").isEmpty)

        let minMs = try XCTUnwrap(object["min_ms"] as? Double), median = try XCTUnwrap(object["median_ms"] as? Double)
        XCTAssertGreaterThan(minMs, 0)
        XCTAssertGreaterThanOrEqual(median, minMs)
        let gmacs = try XCTUnwrap(object["gmacs"] as? Double), rate = try XCTUnwrap(object["gmac_per_s"] as? Double)
        XCTAssertEqual(gmacs, Double(try vm.multiplyAccumulates(width: 64, height: 48)) / 1e9, accuracy: 1e-6)
        XCTAssertGreaterThan(gmacs, 0)
        XCTAssertGreaterThan(rate, 0)
        XCTAssertEqual(rate, gmacs / (median / 1000), accuracy: rate * 1e-3)
        XCTAssertEqual(object["peak_activation_bytes"] as? Int, try vm.slotBytes(width: 64, height: 48).reduce(0, +))

        let kinds = try XCTUnwrap(object["kinds"] as? [[String: Any]])
        XCTAssertEqual(kinds.compactMap { $0["count"] as? Int }.reduce(0, +), program.instructions.count)
        XCTAssertEqual(Set(kinds.compactMap { $0["mnemonic"] as? String }), Set(program.instructions.map(\.mnemonic)))
        XCTAssertEqual(kinds.count, 12)
        for k in kinds { XCTAssertEqual(Set(k.keys), ["mnemonic", "count", "ms", "percent"]) }
        let ms = kinds.compactMap { $0["ms"] as? Double }
        XCTAssertEqual(ms.count, kinds.count)
        XCTAssertEqual(ms, ms.sorted(by: >), "slowest kind first")
        XCTAssertTrue(ms.allSatisfy { $0 >= 0 })
        XCTAssertEqual(kinds.compactMap { $0["percent"] as? Double }.reduce(0, +), 100, accuracy: 0.1)
    }

    func testBenchText() throws {
        let text = try output(of: ["bench", model, "--size", "20x12", "--runs", "2", "--kernels", "reference"])
        XCTAssertTrue(text.hasPrefix("every.qsr at 20x12: kernels reference, "), text)
        XCTAssertTrue(text.contains("over 2 runs"), text)
        XCTAssertTrue(text.contains("GMAC/s at the median"), text)
        for mnemonic in Set(program.instructions.map(\.mnemonic)) {
            XCTAssertTrue(text.split(separator: "\n").contains { $0.split(separator: " ").first.map(String.init) == mnemonic }, "\(mnemonic) row in\n\(text)")
        }
    }

    func testBadOptionsAreRejectedClearly() throws {
        for command in ["bench", "run"] {
            let extra = command == "run" ? [tmp.appendingPathComponent("in.png").path] : []
            let threads = usageError([command, model] + extra + ["--threads", "0"])
            XCTAssertTrue(threads.contains("--threads must be at least 1 (got 0)"), threads)
            let kernels = usageError([command, model] + extra + ["--kernels", "bogus"])
            XCTAssertTrue(kernels.contains("bogus") && kernels.contains("reference") && kernels.contains("avx2"), kernels)
        }
        XCTAssertTrue(usageError(["bench", model, "--runs", "0"]).contains("--runs must be at least 1"))
        XCTAssertTrue(usageError(["bench", model, "--size", "64"]).contains("--size must be WxH"))
        let missing = usageError(["bench", tmp.appendingPathComponent("missing.qsr").path])
        XCTAssertTrue(missing.contains("missing.qsr: cannot read the file"), missing)
    }

    func testRunGivesTheSameImageWithEveryKernelSetAndThreadCount() throws {
        let input = tmp.appendingPathComponent("in.png").path
        var rng = UInt64(7)
        let pixels = (0..<(37 * 23 * 3)).map { _ -> UInt8 in rng = rng &* 6364136223846793005 &+ 1442695040888963407; return UInt8(rng >> 56) }
        try PNG.write(RGBImage(width: 37, height: 23, pixels: pixels), path: input)
        let reference = tmp.appendingPathComponent("reference.png").path
        try srvm(["run", model, input, "-o", reference, "--kernels", "reference", "--threads", "1"])
        let expected = try Data(contentsOf: URL(fileURLWithPath: reference))
        let image = try PNG.read(path: reference)
        XCTAssertEqual(image.width, 74)
        XCTAssertEqual(image.height, 46)
        XCTAssertGreaterThan(Set(image.pixels).count, 16, "a flat output would make the comparison vacuous")
        for (kernels, threads) in [("best", nil), ("best", "3"), ("portable", "2")] as [(String, String?)] {
            let out = tmp.appendingPathComponent("\(kernels)-\(threads ?? "all").png").path
            try srvm(["run", model, input, "-o", out, "--kernels", kernels] + (threads.map { ["--threads", $0] } ?? []))
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), expected, "--kernels \(kernels) --threads \(threads ?? "all")")
        }
    }

    func testRunFailsCleanlyAndWritesNothing() throws {
        let out = tmp.appendingPathComponent("never.png").path
        let notPNG = tmp.appendingPathComponent("bad.png").path
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: notPNG))
        XCTAssertThrowsError(try srvm(["run", model, notPNG, "-o", out])) { XCTAssertTrue("\($0)".contains("bad.png"), "\($0)") }
        XCTAssertThrowsError(try srvm(["run", model, tmp.appendingPathComponent("none.png").path, "-o", out])) { e in
            XCTAssertTrue("\(e)".contains("none.png: no such file"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
