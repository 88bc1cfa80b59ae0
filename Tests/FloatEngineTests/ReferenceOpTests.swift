import XCTest
import SRGraph
import FloatEngine

/// Reference kernels against small hand-computed results (ONNX operator docs' semantics).
final class ReferenceOpTests: XCTestCase {
    func iota(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map(Float.init)) }

    func testDepthToSpaceModes() throws {
        let x = iota([1, 8, 1, 1])
        // DCR: output channel c, offset (i, j) reads input channel (i*2 + j)*2 + c.
        assertExact(try runOp(.depthToSpace(blockSize: 2, mode: .dcr), [x])[0], [1, 2, 2, 2], [0, 2, 4, 6, 1, 3, 5, 7])
        // CRD: reads input channel c*4 + i*2 + j.
        assertExact(try runOp(.depthToSpace(blockSize: 2, mode: .crd), [x])[0], [1, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7])
        // Spatial interleave: [1,4,1,2] (one output channel) -> [1,1,2,4].
        assertExact(try runOp(.depthToSpace(blockSize: 2, mode: .crd), [iota([1, 4, 1, 2])])[0], [1, 1, 2, 4],
                    [0, 2, 1, 3, 4, 6, 5, 7])
    }

    func testBroadcastingBinaryOps() throws {
        let a = iota([2, 3])
        assertExact(try runOp(.add, [a, Tensor(shape: [3], floats: [10, 20, 30])])[0], [2, 3], [10, 21, 32, 13, 24, 35])
        assertExact(try runOp(.mul, [Tensor(shape: [2, 1], floats: [1, 2]), Tensor(shape: [1, 3], floats: [1, 2, 3])])[0],
                    [2, 3], [1, 2, 3, 2, 4, 6])
        assertExact(try runOp(.sub, [a, .scalar(1)])[0], [2, 3], [-1, 0, 1, 2, 3, 4])
        assertExact(try runOp(.div, [Tensor(shape: [1], floats: [6]), Tensor(shape: [2, 1], floats: [2, 3])])[0], [2, 1], [3, 2])
        assertExact(try runOp(.pow, [Tensor(shape: [3], floats: [2, 3, 4]), Tensor(shape: [3], floats: [3, 2, 0.5])])[0], [3], [8, 9, 2])
        // Rank 4 per-channel, through the fast path too.
        let x = iota([1, 2, 1, 2]), c = Tensor(shape: [2, 1, 1], floats: [100, 200])
        for k in [KernelChoice.reference, .best] {
            assertExact(try runOp(.add, [x, c], kernels: k)[0], [1, 2, 1, 2], [100, 101, 202, 203])
            assertExact(try runOp(.sub, [x, c], kernels: k)[0], [1, 2, 1, 2], [-100, -99, -198, -197])
        }
    }

    func testActivations() throws {
        let x = Tensor(shape: [4], floats: [-2, -0.5, 0, 3])
        assertExact(try runOp(.relu, [x])[0], [4], [0, 0, 0, 3])
        assertExact(try runOp(.leakyRelu(alpha: 0.5), [x])[0], [4], [-1, -0.25, 0, 3])
        assertExact(try runOp(.clip(min: -1, max: 1), [x])[0], [4], [-1, -0.5, 0, 1])
        assertExact(try runOp(.sqrt, [Tensor(shape: [2], floats: [4, 9])])[0], [2], [2, 3])
        let s = try runOp(.sigmoid, [Tensor(shape: [3], floats: [0, 100, -100])])[0]
        XCTAssertEqual(s.floats[0], 0.5)
        XCTAssertEqual(s.floats[1], 1)
        XCTAssertLessThan(s.floats[2], 1e-30)
        // PRelu: slope [2,1,1] broadcast against [1,2,1,2].
        let p = Tensor(shape: [1, 2, 1, 2], floats: [-1, 1, -2, 2])
        assertExact(try runOp(.prelu, [p, Tensor(shape: [2, 1, 1], floats: [0.5, 0.25])])[0], [1, 2, 1, 2], [-0.5, 1, -0.5, 2])
    }

    func testReduceMean() throws {
        let x = iota([2, 3])
        assertExact(try runOp(.reduceMean(axes: [1], keepDims: true), [x])[0], [2, 1], [1, 4])
        assertExact(try runOp(.reduceMean(axes: [0], keepDims: false), [x])[0], [3], [1.5, 2.5, 3.5])
        assertExact(try runOp(.reduceMean(axes: nil, keepDims: false), [x])[0], [], [2.5])
        assertExact(try runOp(.reduceMean(axes: [-1, -2], keepDims: true), [iota([1, 2, 2, 2])])[0], [1, 2, 1, 1], [1.5, 5.5])
    }

    func testSplitConcatReshapeTranspose() throws {
        let x = iota([2, 6])
        let parts = try runOp(.split(axis: 1, sizes: [2, 4]), [x], outputs: 2)
        assertExact(parts[0], [2, 2], [0, 1, 6, 7])
        assertExact(parts[1], [2, 4], [2, 3, 4, 5, 8, 9, 10, 11])
        let halves = try runOp(.split(axis: 0, sizes: nil), [x], outputs: 2)
        assertExact(halves[1], [1, 6], [6, 7, 8, 9, 10, 11])
        assertExact(try runOp(.concat(axis: -1), [iota([2, 1]), Tensor(shape: [2, 2], floats: [7, 8, 9, 10])])[0],
                    [2, 3], [0, 7, 8, 1, 9, 10])
        assertExact(try runOp(.reshape(shape: [0, 3, -1], allowZero: false), [x])[0], [2, 3, 2], x.floats)
        let t = try runOp(.transpose(perm: [2, 0, 1]), [iota([2, 3, 2])])[0]
        // out[k][i][j] = x[i][j][k]
        assertExact(t, [2, 2, 3], [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
    }

    func testResizeNearest() throws {
        typealias A = ResizeNearestAttributes
        // ONNX resize_upsample_scales_nearest: half_pixel, round_prefer_floor.
        let up = try runOp(.resizeNearest(A(scales: [1, 1, 2, 3])), [Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])])[0]
        assertExact(up, [1, 1, 4, 6], [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4])
        // ONNX resize_downsample_scales_nearest.
        let x = Tensor(shape: [1, 1, 2, 4], floats: [1, 2, 3, 4, 5, 6, 7, 8])
        assertExact(try runOp(.resizeNearest(A(scales: [1, 1, 0.6, 0.6])), [x])[0], [1, 1, 1, 2], [1, 3])
        // 1-D cases computed by hand: in [0,1,2,3], scale 2.
        let v = Tensor(shape: [4], floats: [0, 1, 2, 3])
        func resize(_ mode: A.CoordinateTransformation, _ nearest: A.NearestMode) throws -> [Float] {
            try runOp(.resizeNearest(A(scales: [2], coordinateTransformation: mode, nearestMode: nearest)), [v])[0].floats
        }
        // asymmetric: x = o/2.
        XCTAssertEqual(try resize(.asymmetric, .floor), [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(try resize(.asymmetric, .ceil), [0, 1, 1, 2, 2, 3, 3, 3])
        XCTAssertEqual(try resize(.asymmetric, .roundPreferCeil), [0, 1, 1, 2, 2, 3, 3, 3])
        XCTAssertEqual(try resize(.asymmetric, .roundPreferFloor), [0, 0, 1, 1, 2, 2, 3, 3])
        // align_corners: x = o * 3/7 -> 0, .43, .86, 1.29, 1.71, 2.14, 2.57, 3.
        XCTAssertEqual(try resize(.alignCorners, .roundPreferFloor), [0, 0, 1, 1, 2, 2, 3, 3])
        // tf_half_pixel_for_nn: x = (o + .5)/2 -> .25, .75, 1.25, ...
        XCTAssertEqual(try resize(.tfHalfPixelForNN, .floor), [0, 0, 1, 1, 2, 2, 3, 3])
        XCTAssertEqual(try resize(.tfHalfPixelForNN, .roundPreferFloor), [0, 1, 1, 2, 2, 3, 3, 3])
        // half_pixel: x = (o + .5)/2 - .5 -> -.25, .25, .75, ...; ceil of -0.25 is 0 (clamped anyway).
        XCTAssertEqual(try resize(.halfPixel, .ceil), [0, 1, 1, 2, 2, 3, 3, 3])
    }

    func testInt64PassesThroughReshape() throws {
        let g = Graph(name: "i", inputs: [ValueInfo(name: "x", dtype: .int64, shape: [.known(2), .known(2)])],
                      outputs: [ValueInfo(name: "y", shape: [])], initializers: [:],
                      nodes: [Node(name: "r", op: .reshape(shape: [4], allowZero: false), inputs: ["x"], outputs: ["y"])])
        let y = try FloatEngine(graph: g).run(["x": Tensor(shape: [2, 2], ints: [1, 2, 3, 4])])["y"]!
        XCTAssertEqual(y.shape, [4])
        XCTAssertEqual(y.ints, [1, 2, 3, 4])
    }
}
