import Foundation
import SRImage
import SRQuant
import SRRuntime

/// The default calibration set when `--calib` is not given: deterministic images with the
/// statistics SR inputs have (smooth 1/f texture, hard edges, saturated and dark regions), so
/// activation ranges are not calibrated on flat or noise-only content. Real LR images from the
/// target domain calibrate better; this default keeps `srcc compile model.onnx -b 8` usable alone.
enum SyntheticCalibration {
    static let count = 8
    static let size = 96

    static func images() -> [RGBImage] { (0..<count).map { image(seed: UInt64($0) + 1) } }

    static func image(seed: UInt64) -> RGBImage {
        var rng = SeededGenerator(seed: seed)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        let n = size
        var planes = [[Double]](repeating: [Double](repeating: 0, count: n * n), count: 3)
        // 1/f texture: random-phase sinusoids with amplitude falling as 1/frequency, shared
        // between channels with a random colour so channels correlate as in natural images.
        for _ in 0..<24 {
            let f = 1 + uniform() * 20, theta = uniform() * .pi, phase = uniform() * 2 * .pi
            let amp = 0.35 / f
            let colour = (0..<3).map { _ in 0.6 + 0.8 * uniform() }
            let fx = cos(theta) * f * 2 * .pi / Double(n), fy = sin(theta) * f * 2 * .pi / Double(n)
            for y in 0..<n { for x in 0..<n {
                let v = amp * sin(fx * Double(x) + fy * Double(y) + phase)
                for c in 0..<3 { planes[c][y * n + x] += v * colour[c] }
            } }
        }
        // Flat shapes with hard edges (rectangles and discs), some saturated or dark.
        for _ in 0..<6 {
            let colour = (0..<3).map { _ in uniform() < 0.2 ? (uniform() < 0.5 ? -0.5 : 0.5) : uniform() - 0.5 }
            let cx = uniform() * Double(n), cy = uniform() * Double(n), r = 4 + uniform() * Double(n) / 4
            let disc = uniform() < 0.5
            for y in 0..<n { for x in 0..<n {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let inside = disc ? dx * dx + dy * dy < r * r : abs(dx) < r && abs(dy) < r * 0.6
                if inside { for c in 0..<3 { planes[c][y * n + x] = colour[c] } }
            } }
        }
        let base = (0..<3).map { _ in 0.3 + 0.4 * uniform() }
        var pixels = [UInt8](repeating: 0, count: n * n * 3)
        for i in 0..<(n * n) { for c in 0..<3 {
            pixels[i * 3 + c] = UInt8(max(0, min(255, ((base[c] + planes[c][i]) * 255).rounded())))
        } }
        return RGBImage(width: n, height: n, pixels: pixels)
    }
}
