import SRGraph

/// `wide-headroom`: grids wider than 8 bits (residual stream, attention arithmetic, 16-bit conv
/// inputs) get α × `wideGridHeadroom`. Their spare resolution buys room for content unlike the
/// calibration images: EDSR-8 x2 calibrated on Set5's photos meets Set14's ppt3 (screen
/// graphics), which drives the head conv's output far past its calibrated α; ×2 takes that
/// image's loss from 0.25 to 0.11 dB for 1 of a 16-bit grid's bits (×4: 0.08, but it costs
/// IMDN x4 -b 8 0.015 dB on Set5).
///
/// Right after calibrate, so the passes that tune on the calibration set (mixed-precision,
/// channel-alpha, tune-alpha, odm, round-weights) decide on the ranges the program will have.
/// Applied after them instead, nothing adapts to the margin and ×2 cost IMDN x4 -b 8 0.017 dB
/// on Set5 (0.054 vs 0.039); at -b 4 the order went the other way (IMDN x4: 1.42 dB here,
/// 1.23 last), through those passes' near-tied choices. Grids with channel α keep them (none
/// are wider than 8 bits at this point; later they are folded into weights).
func addWideGridHeadroom(_ g: inout Graph, options: QuantizationOptions, log: (String) -> Void) throws {
    guard options.wideGridHeadroom != 1 else { log("off (factor 1)"); return }
    let pixels = pixelQuantizes(g)
    var widened = 0
    for i in g.nodes.indices {
        guard var q = g.nodes[i].op.fakeQuant, q.bits > 8, q.zeroPoint == 0, q.channelAlphas == nil,
              !pixels.contains(g.nodes[i].name) else { continue }
        q.alpha *= options.wideGridHeadroom
        g.nodes[i].op = .fakeQuantize(q)
        widened += 1
    }
    log("\(widened) grids wider than 8 bits with one α: α × \(formatFloat(options.wideGridHeadroom))")
}
