import Foundation
import SRImage
import SRVMCommands

/// One image of an SR benchmark set: HR, and the LR to feed (from `LR_bicubic/X<s>/` when
/// the set has it, otherwise made with MATLAB-compatible bicubic from the mod-s cropped HR).
public struct EvaluationImage {
    public var name: String
    public var hr: RGBImage
    public var lr: RGBImage
}

/// Loads `DIR/HR/*.png` (sorted by name) with their LR counterparts.
public func loadDataset(directory: String, scale: Int) throws -> [EvaluationImage] {
    let fm = FileManager.default
    let hrDir = (directory as NSString).appendingPathComponent("HR")
    guard let names = try? fm.contentsOfDirectory(atPath: hrDir) else {
        throw CLIError("\(directory): no HR/ folder (expected DIR/HR/*.png and optionally DIR/LR_bicubic/X\(scale)/*.png)")
    }
    let pngs = names.filter { $0.lowercased().hasSuffix(".png") }.sorted()
    guard !pngs.isEmpty else { throw CLIError("\(hrDir): no .png files") }
    let lrDir = (directory as NSString).appendingPathComponent("LR_bicubic/X\(scale)")
    var images: [EvaluationImage] = []
    for file in pngs {
        let hr = try readPNG((hrDir as NSString).appendingPathComponent(file))
        let lrPath = (lrDir as NSString).appendingPathComponent(file)
        let lr: RGBImage
        if fm.fileExists(atPath: lrPath) {
            lr = try readPNG(lrPath)
        } else {
            lr = bicubicDownscale(hr, scale: scale)
        }
        guard lr.width * scale <= hr.width, lr.height * scale <= hr.height else {
            throw CLIError("\(file): LR \(lr.width)x\(lr.height) x\(scale) is larger than HR \(hr.width)x\(hr.height)")
        }
        images.append(EvaluationImage(name: (file as NSString).deletingPathExtension, hr: hr, lr: lr))
    }
    return images
}

public struct ImageScore: Codable, Equatable {
    public var name: String
    public var psnr_y: Double
    public var ssim_y: Double
}

public struct EvaluationReport: Codable, Equatable {
    public var psnr_y: Double
    public var ssim_y: Double
    public var images: [ImageScore]
}

/// Y-PSNR and Y-SSIM of `upscale(lr)` against HR cropped top-left to LR size x scale,
/// with `scale` pixels shaved from each border (the EDSR convention).
public func evaluate(images: [EvaluationImage], scale: Int,
                     progress: ((ImageScore) -> Void)? = nil,
                     upscale: (RGBImage) throws -> RGBImage) throws -> EvaluationReport {
    var scores: [ImageScore] = []
    for item in images {
        let sr = try upscale(item.lr)
        let hr = SRPair.croppedHR(item.hr, lr: item.lr, scale: scale)
        guard sr.width == hr.width, sr.height == hr.height else {
            throw CLIError("\(item.name): model output \(sr.width)x\(sr.height) differs from HR crop \(hr.width)x\(hr.height)")
        }
        let score = ImageScore(name: item.name, psnr_y: psnrY(sr, hr, shave: scale), ssim_y: ssimY(sr, hr, shave: scale))
        progress?(score)
        scores.append(score)
    }
    let n = Double(max(scores.count, 1))
    return EvaluationReport(psnr_y: scores.map(\.psnr_y).reduce(0, +) / n,
                            ssim_y: scores.map(\.ssim_y).reduce(0, +) / n, images: scores)
}
