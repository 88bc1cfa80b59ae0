import ArgumentParser
import Foundation
import SRVM
import SRVMCommands

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure Y-PSNR and Y-SSIM of a model on an SR benchmark set.",
        discussion: """
        DIR holds HR/*.png and optionally LR_bicubic/X<scale>/*.png (the EDSR 'benchmark' layout). \
        Missing LR images are made with MATLAB-compatible bicubic from the HR cropped to a \
        multiple of the scale. Scores use the Y channel (BT.601) with <scale> pixels shaved from \
        each border, HR cropped top-left to LR size x scale. Per-image lines are printed as they \
        finish (to stderr with --json).

        A .onnx model runs on the fp32 engine with --threads workers; a .qsr program runs on srvm \
        with --kernels and --threads (the scores do not depend on either).

        Examples:
          srcc eval edsr.onnx --dataset ../shared/datasets/Set5 --scale 2 --range 255
          srcc eval edsr.qsr --dataset ../shared/datasets/Set5 --scale 2 --threads 2
          srcc eval edsr.qsr --dataset ../shared/datasets/Set5 --scale 2 --kernels reference --json
        """)

    @Argument(help: "Model file: float (.onnx, on the fp32 engine) or compiled (.qsr, on srvm; its convention is in the file).")
    var model: String

    @Option(help: "Dataset folder with HR/ (and LR_bicubic/X<scale>/).")
    var dataset: String

    @Option(help: "Upscaling factor (must match the model's).")
    var scale: Int

    @OptionGroup var convention: ConventionOptions

    @Flag(help: "Print the result as JSON: {\"psnr_y\",\"ssim_y\",\"images\":[{\"name\",\"psnr_y\",\"ssim_y\"}]}.")
    var json = false

    @Option(help: ArgumentHelp("Worker threads of the fp32 engine or srvm (default: all cores).", valueName: "n"))
    var threads: Int?

    @Option(help: ArgumentHelp("srvm's kernel set for a .qsr program: reference, best (default), portable, avx2, vnni, avx512 or amx.", valueName: "set"))
    var kernels: KernelSet?

    func validate() throws {
        try checkThreads(threads)
        if kernels != nil && (model as NSString).pathExtension.lowercased() != "qsr" {
            throw ValidationError("--kernels chooses srvm's integer kernels and needs a compiled program (.qsr); \(model) is not one")
        }
    }

    func run() throws {
        let upscaler = try openUpscaler(path: model, convention: convention.convention, threads: threads, kernels: kernels)
        guard upscaler.scale == scale else {
            throw CLIError("\(model) upscales x\(upscaler.scale), but --scale is \(scale)")
        }
        let images = try loadDataset(directory: dataset, scale: scale)
        let stderr = FileHandle.standardError
        if !json { print(String(repeating: " ", count: 0) + pad("image", 14) + pad("PSNR-Y", 10) + "SSIM-Y") }
        let report = try evaluate(images: images, scale: scale, progress: { s in
            let line = pad(s.name, 14) + pad(String(format: "%.3f", s.psnr_y), 10) + String(format: "%.4f", s.ssim_y)
            if json { stderr.write(Data("\(line)\n".utf8)) } else { print(line) }
        }, upscale: upscaler.upscale)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(pad("mean", 14) + pad(String(format: "%.3f", report.psnr_y), 10) + String(format: "%.4f", report.ssim_y))
        }
    }
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
