/// One sub-image of the stored data: the pixels (x0 + i*dx, y0 + j*dy) of the final image.
/// A non-interlaced image is a single pass with step 1; Adam7 has seven, some of which
/// may be empty for tiny images (empty passes are left out, they have no bytes in the stream).
struct PNGPass: Sendable, Equatable {
    let x0: Int, y0: Int, dx: Int, dy: Int
    let width: Int, height: Int

    static func whole(width: Int, height: Int) -> PNGPass {
        PNGPass(x0: 0, y0: 0, dx: 1, dy: 1, width: width, height: height)
    }

    /// The seven Adam7 passes (PNG spec section 8.2), non-empty ones only, in stream order.
    static func adam7(width: Int, height: Int) -> [PNGPass] {
        let grid: [(x0: Int, y0: Int, dx: Int, dy: Int)] = [
            (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
            (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2),
        ]
        var out: [PNGPass] = []
        for g in grid {
            let w = width > g.x0 ? (width - g.x0 + g.dx - 1) / g.dx : 0
            let h = height > g.y0 ? (height - g.y0 + g.dy - 1) / g.dy : 0
            if w > 0 && h > 0 {
                out.append(PNGPass(x0: g.x0, y0: g.y0, dx: g.dx, dy: g.dy, width: w, height: h))
            }
        }
        return out
    }

    /// Copies a row of `width` pass pixels (`channels` elements each, contiguous in `src`)
    /// to their places in row `y0 + j*dy` of a full image of `imageWidth` pixels.
    @inline(__always)
    func scatterRow<T>(_ src: UnsafePointer<T>, passRow j: Int, channels: Int,
                       into dst: UnsafeMutablePointer<T>, imageWidth: Int) {
        let rowStart = dst + (y0 + j * dy) * imageWidth * channels
        if dx == 1 {
            (rowStart + x0 * channels).update(from: src, count: width * channels)
            return
        }
        var s = src
        var d = rowStart + x0 * channels
        let step = dx * channels
        for _ in 0..<width {
            for c in 0..<channels { d[c] = s[c] }
            s += channels
            d += step
        }
    }
}
