import Foundation
import XCTest

/// Locations of the real material in ../shared (models, datasets) next to the checkout.
enum SharedData {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let root = packageRoot.deletingLastPathComponent().appendingPathComponent("shared")

    /// ../shared, or a skip that says why (a user's clone has no ../shared; CI always does).
    static func require() throws -> URL {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("models").path) else {
            throw XCTSkip("../shared not found at \(root.path): models and datasets live beside the checkout")
        }
        return root
    }

    struct ModelRecord {
        var file: String
        var scale: Int
        var bgr: Bool
        var range255: Bool
        var set5: Double
        var set14: Double
    }

    /// The summary table of ../shared/models/PROVENANCE.md: the ONNX Runtime PSNRs our engine must match.
    static func provenance() throws -> [ModelRecord] {
        let text = try String(contentsOf: try require().appendingPathComponent("models/PROVENANCE.md"), encoding: .utf8)
        var records: [ModelRecord] = []
        for line in text.split(separator: "\n") where line.hasPrefix("| ") && line.contains(".onnx |") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 7, let scale = Int(cells[2].dropFirst()),
                  let s5 = Double(cells[5].split(separator: " ")[0]),
                  let s14 = Double(cells[6].split(separator: " ")[0]) else { continue }
            records.append(ModelRecord(file: cells[0], scale: scale, bgr: cells[4].contains("BGR"),
                                       range255: cells[4].contains("0..255"), set5: s5, set14: s14))
        }
        XCTAssertGreaterThanOrEqual(records.count, 3, "PROVENANCE.md summary table not parsed")
        return records
    }
}
