import XCTest
import SRCommands

/// Acceptance: our fp32 engine reproduces ONNX Runtime's Y-PSNR (PROVENANCE.md) on Set5 and
/// Set14 for every shared model, within 0.005 dB.
final class FloatAccuracyTests: XCTestCase {
    func testXLSR() throws { try check("xlsr_x3_cxzhou95.onnx") }
    func testEDSR() throws { try check("edsr_r8f64_x2_krasserm.onnx") }
    func testIMDN() throws { try check("imdn_x4_zheng222.onnx") }

    func testEveryProvenanceModelIsCovered() throws {
        let files = Set(try SharedData.provenance().map(\.file))
        XCTAssertEqual(files, ["xlsr_x3_cxzhou95.onnx", "edsr_r8f64_x2_krasserm.onnx", "imdn_x4_zheng222.onnx"],
                       "a model was added to ../shared: give it a test here")
    }

    func check(_ file: String) throws {
        let shared = try SharedData.require()
        guard let record = try SharedData.provenance().first(where: { $0.file == file }) else {
            return XCTFail("\(file) not in PROVENANCE.md")
        }
        let graph = try loadGraph(path: shared.appendingPathComponent("models/\(file)").path)
        let convention = ModelConvention(channels: record.bgr ? .bgr : .rgb, range: record.range255 ? .byte : .unit)
        let upscaler = try Upscaler(graph: graph, convention: convention)
        XCTAssertEqual(upscaler.scale, record.scale)
        for (set, expected) in [("Set5", record.set5), ("Set14", record.set14)] {
            let images = try loadDataset(directory: shared.appendingPathComponent("datasets/\(set)").path, scale: record.scale)
            let report = try evaluate(images: images, scale: record.scale, upscale: upscaler.upscale)
            print("float \(file) \(set): PSNR-Y \(String(format: "%.4f", report.psnr_y)) (ORT \(expected)) SSIM-Y \(String(format: "%.4f", report.ssim_y))")
            XCTAssertEqual(report.psnr_y, expected, accuracy: 0.005, "\(file) on \(set)")
            XCTAssertEqual(report.images.count, set == "Set5" ? 5 : 14)
        }
    }
}
