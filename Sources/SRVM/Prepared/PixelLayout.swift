import QSRFormat
import SRVMKernelsCommon

/// srvm's activation layout: pixels in rows, each pixel's channels contiguous ("HWC"), the
/// channel stride rounded up to a multiple of 8 so a SIMD store of 8 channels and a 2- or
/// 4-channel broadcast never straddle pixels. Padding channels hold unspecified values;
/// every kernel reads them only against zero weights or ignores them.
struct PixelLayout {
    let channels: Int
    let stride: Int
    let height: Int
    let width: Int
    let type: StorageType

    init(channels: Int, height: Int, width: Int, type: ElementType) {
        self.channels = channels; self.height = height; self.width = width
        self.stride = (channels + 7) / 8 * 8
        self.type = StorageType(rawValue: type.rawValue)!
    }

    /// A view of `channels` channels inside pixels of `stride` (slice_channels read in place).
    init(view channels: Int, of base: PixelLayout) {
        self.channels = channels; self.height = base.height; self.width = base.width
        self.stride = base.stride; self.type = base.type
    }

    /// Rows r of this tensor as a tensor of their own (same stride), at byte offset bandOffset(r).
    func band(_ r: Range<Int>) -> PixelLayout {
        PixelLayout(channels: channels, stride: stride, height: r.count, width: width, type: type)
    }
    func bandOffset(_ r: Range<Int>) -> Int { pixelOffset(self, r.lowerBound, 0) }

    private init(channels: Int, stride: Int, height: Int, width: Int, type: StorageType) {
        self.channels = channels; self.stride = stride; self.height = height; self.width = width; self.type = type
    }

    var rowElements: Int { width * stride }
    /// Bytes of the whole tensor, plus slack so 4-byte broadcasts past the last channel of
    /// the last pixel stay inside the allocation.
    var byteCount: Int { height * width * stride * type.byteWidth + 64 }
}

/// Bytes from a tensor's base to pixel (y, x).
@inline(__always) func pixelOffset(_ l: PixelLayout, _ y: Int, _ x: Int) -> Int {
    ((y * l.width + x) * l.stride) * l.type.byteWidth
}
