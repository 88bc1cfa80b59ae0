import XCTest

/// The committed protobuf-c bindings must be what scripts/gen-onnx-proto makes of formats/onnx/onnx.proto.
final class ProtoStalenessTests: XCTestCase {
    func testGeneratedBindingsAreUpToDate() throws {
        guard TestSupport.which("protoc-c") != nil else {
            XCTFail("protoc-c is not on PATH: install the Debian package protobuf-c-compiler to check the generated bindings")
            return
        }
        let script = TestSupport.root.appendingPathComponent("scripts/gen-onnx-proto").path
        let r = try TestSupport.run("/bin/bash", [script, "--check"])
        XCTAssertEqual(r.status, 0, "scripts/gen-onnx-proto --check failed:\n\(r.stdout)\(r.stderr)")
        XCTAssertTrue(r.stdout.contains("up to date"), r.stdout)
    }
}
