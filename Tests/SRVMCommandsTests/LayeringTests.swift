import XCTest
import Foundation

/// srvm must stay small: it links SRVMCommands and what that needs, never protobuf-c, ONNX
/// import, the float engine or the quantizer. Checked on the package graph itself
/// (`swift package dump-package`), so it needs no build and fails on the manifest edit that
/// breaks it, plus the imports of the sources srvm compiles (SwiftPM can let a module import
/// a sibling it does not declare when that sibling happens to be built first).
final class LayeringTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let forbidden: Set<String> = ["ONNXImport", "ONNXProtoC", "CProtobufC", "SRQuant", "FloatEngine", "SRGraph", "SRCommands",
                                         "FloatKernelsCommon", "FloatKernelsAVX2", "FloatKernelsAVX512"]

    /// Target name -> names of the package targets it depends on (products of other packages left out).
    func targetGraph() throws -> [String: [String]] {
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("layering-\(UUID().uuidString)")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: work) }
        let out = work.appendingPathComponent("package.json"), err = work.appendingPathComponent("stderr.txt")
        fm.createFile(atPath: out.path, contents: nil)
        fm.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Its own scratch path: never waits for (or disturbs) a build holding .build's lock.
        process.arguments = ["swift", "package", "--package-path", Self.packageRoot.path,
                             "--scratch-path", work.appendingPathComponent("scratch").path, "dump-package"]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw LayeringCheckError(message: "`swift package dump-package` failed (\(process.terminationStatus)): \(stderr)")
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any]
        let targets = try XCTUnwrap(json?["targets"] as? [[String: Any]], "dump-package JSON has no targets")
        var graph: [String: [String]] = [:]
        for t in targets {
            let name = try XCTUnwrap(t["name"] as? String)
            var deps: [String] = []
            for d in (t["dependencies"] as? [[String: Any]]) ?? [] {
                // {"byName": [name, condition]} or {"target": [name, condition]}; {"product": ...} is another package.
                if let v = (d["byName"] ?? d["target"]) as? [Any], let n = v.first as? String { deps.append(n) }
            }
            graph[name] = deps
        }
        return graph
    }

    func closure(of target: String, in graph: [String: [String]]) -> Set<String> {
        var seen: Set<String> = [], stack = [target]
        while let t = stack.popLast() {
            for d in graph[t] ?? [] where graph[d] != nil && seen.insert(d).inserted { stack.append(d) }
        }
        return seen
    }

    func testSrvmLinksNoCompilerModules() throws {
        let graph = try targetGraph()
        XCTAssertEqual(graph["srvm"], ["SRVMCommands"], "the srvm executable depends on SRVMCommands only")
        let srvm = closure(of: "srvm", in: graph)
        // Not vacuous: the graph was read and srvm reaches the VM.
        XCTAssertTrue(srvm.isSuperset(of: ["SRVMCommands", "SRVM", "QSRFormat", "SRImage", "SRRuntime", "FixedPoint"]), "\(srvm.sorted())")
        XCTAssertTrue(Self.forbidden.isSubset(of: Set(graph.keys)), "a forbidden module was renamed; update this test: \(graph.keys.sorted())")
        XCTAssertEqual(srvm.intersection(Self.forbidden), [], "srvm's transitive dependencies: \(srvm.sorted())")
        // srcc shares SRVMCommands' helpers instead of keeping copies.
        XCTAssertTrue(closure(of: "srcc", in: graph).contains("SRVMCommands"))
    }

    func testSrvmSourcesImportOnlyDeclaredModules() throws {
        let graph = try targetGraph()
        let fm = FileManager.default
        for target in ["srvm", "SRVMCommands"] {
            let allowed = closure(of: target, in: graph)
            let dir = Self.packageRoot.appendingPathComponent("Sources/\(target)")
            let files = try fm.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
            XCTAssertFalse(files.isEmpty, dir.path)
            for file in files {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let words = line.split(separator: " ").map(String.init).filter { !$0.hasPrefix("@") }
                    guard words.count >= 2, words[0] == "import" else { continue }
                    let module = words[1].split(separator: ".")[0]
                    if graph[String(module)] != nil {
                        XCTAssertTrue(allowed.contains(String(module)), "\(target)/\(file) imports \(module), which \(target) does not depend on")
                    }
                }
            }
        }
    }
}

struct LayeringCheckError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
