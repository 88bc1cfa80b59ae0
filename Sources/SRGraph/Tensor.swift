/// Element types the IR carries. Graph activations are float32; int64 appears only in
/// shape-like constants (Reshape targets, Split sizes) before import folds them away.
public enum DType: String, Hashable, Sendable, CaseIterable {
    case float32 = "f32"
    case int64 = "i64"
}

/// A dense constant or runtime tensor, row-major. Exactly one of the storages is used,
/// according to `dtype`.
public struct Tensor: Equatable, Sendable {
    public let dtype: DType
    public let shape: [Int]
    public var floats: [Float]
    public var ints: [Int64]

    public init(shape: [Int], floats: [Float]) {
        precondition(floats.count == shape.reduce(1, *), "Tensor: \(floats.count) values for shape \(shape)")
        self.dtype = .float32; self.shape = shape; self.floats = floats; self.ints = []
    }

    public init(shape: [Int], ints: [Int64]) {
        precondition(ints.count == shape.reduce(1, *), "Tensor: \(ints.count) values for shape \(shape)")
        self.dtype = .int64; self.shape = shape; self.floats = []; self.ints = ints
    }

    public static func scalar(_ v: Float) -> Tensor { Tensor(shape: [], floats: [v]) }

    public var count: Int { shape.reduce(1, *) }

    /// Values as Double regardless of dtype (for statistics and folding of small constants).
    public var doubles: [Double] {
        dtype == .float32 ? floats.map(Double.init) : ints.map(Double.init)
    }
}
