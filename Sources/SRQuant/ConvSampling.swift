import SRGraph
import SRRuntime

/// Random output positions of a conv over an input [1,C,h,w] and their im2col columns: the
/// samples ODM's γ search and round-weights measure a conv's output error on.
struct ConvSampling {
    let a: Conv2DAttributes
    let h: Int, w: Int, ho: Int, wo: Int
    let pads: [Int]

    /// nil when the conv has no output on this input size.
    init?(_ a: Conv2DAttributes, height h: Int, width w: Int) {
        self.a = a; self.h = h; self.w = w
        pads = a.resolvedPads(inputHeight: h, inputWidth: w)
        ho = (h + pads[0] + pads[2] - a.dilations[0] * (a.kernel[0] - 1) - 1) / a.strides[0] + 1
        wo = (w + pads[1] + pads[3] - a.dilations[1] * (a.kernel[1] - 1) - 1) / a.strides[1] + 1
        guard ho > 0, wo > 0 else { return nil }
    }

    func randomPosition(using rng: inout SeededGenerator) -> (y: Int, x: Int) {
        let y = Int.random(in: 0..<ho, using: &rng)
        return (y, Int.random(in: 0..<wo, using: &rng))
    }

    /// Every tap of output position (oy, ox) over `channels` channels: `body(row, channel, index)`
    /// with row = (c·kh + ky)·kw + kx and index the flat input index, nil in the padding.
    func forEachTap(channels: Int, y oy: Int, x ox: Int, _ body: (_ row: Int, _ channel: Int, _ index: Int?) -> Void) {
        let kh = a.kernel[0], kw = a.kernel[1]
        for ch in 0..<channels {
            for ky in 0..<kh {
                let y = oy * a.strides[0] - pads[0] + ky * a.dilations[0]
                for kx in 0..<kw {
                    let x = ox * a.strides[1] - pads[1] + kx * a.dilations[1]
                    let inside = y >= 0 && y < h && x >= 0 && x < w
                    body((ch * kh + ky) * kw + kx, ch, inside ? (ch * h + y) * w + x : nil)
                }
            }
        }
    }
}
