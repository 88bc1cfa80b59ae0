import Foundation
import SRGraph

/// ONNX (protobuf) -> SRGraph.
///
/// Pipeline: decode the protobuf; check opsets; bind graph inputs (dynamic dims become
/// symbols) and initializers; walk the nodes, folding every node whose inputs are known
/// (Constant, shape arithmetic, constant subexpressions) and translating the rest into IR
/// ops; rewrite the old exporters' pixel shuffle into DepthToSpace; lower Reshape targets;
/// then sort, remove dead code and infer shapes.
///
/// Inputs: a dynamic axis of a graph input becomes a symbol. For 4-D inputs, axes 2 and 3 are
/// always named `H` and `W` (whatever their dim_param), and a dynamic batch axis is fixed to 1
/// (the compiler targets single images). Other dynamic axes keep their dim_param name, or are
/// named `<input>_<axis>` when they have none.
public enum ONNXImporter {
    public static let supportedOpsets = 11...21

    public static func load(path: String) throws -> Graph {
        try load(bytes: try readFile(path), fileName: fileName(path))
    }

    public static func load(bytes: [UInt8], fileName: String) throws -> Graph {
        try load(bytes: bytes, fileName: fileName, constantInputs: [:])
    }

    /// `constantInputs` turns graph inputs into initializers before import (for inputs that a
    /// compiler needs at compile time, like Reshape's shape, when a model takes them as inputs).
    ///
    /// `opsetOverride` is for conformance tests only: it imports a file that declares a newer
    /// default-domain opset as if it declared this one. Use it only when the caller has checked
    /// that the file's operators did not change between the two versions.
    public static func load(bytes: [UInt8], fileName: String, constantInputs: [String: Tensor],
                            opsetOverride: Int? = nil) throws -> Graph {
        let model = try ProtoDecoder.model(bytes: bytes, file: fileName)
        var importer = try GraphImporter(model: model, file: fileName, constantInputs: constantInputs,
                                         opsetOverride: opsetOverride)
        return try importer.run()
    }

    /// A serialized TensorProto (the ONNX test data format). Float types become float32, integer types int64.
    public static func loadTensor(path: String) throws -> Tensor {
        let name = fileName(path)
        let t = try TensorDecoding.decode(try ProtoDecoder.tensor(bytes: try readFile(path), file: name), file: name, what: "tensor")
        guard let tensor = t.tensor else { throw ImportError(.malformed, file: name, "tensor could not be decoded") }
        return tensor
    }

    /// What a model declares, without importing it.
    public struct ModelSummary: Sendable {
        /// Graph inputs that are not initializers, in order.
        public var inputs: [String]
        public var inputElementTypes: [String]
        public var outputs: [String]
        public var outputElementTypes: [String]
        /// Op types of the nodes, in order (with repeats).
        public var opTypes: [String]
        /// Graph inputs that feed a parameter the compiler needs at compile time.
        public var parameterInputs: Set<String>
        public var opset: Int?
    }

    public static func inspect(bytes: [UInt8], fileName: String) throws -> ModelSummary {
        let model = try ProtoDecoder.model(bytes: bytes, file: fileName)
        let g = model.graph
        let initNames = Set(g.initializers.map(\.name))
        let inputs = g.inputs.filter { !initNames.contains($0.name) }
        let inputNames = Set(inputs.map(\.name))
        var params = Set<String>()
        for n in g.nodes {
            for i in OpTranslation.parameterInputs(opType: n.opType) where i < n.inputs.count && inputNames.contains(n.inputs[i]) {
                params.insert(n.inputs[i])
            }
        }
        func typeName(_ v: ONNXValueInfo) -> String { v.elemType.map(TensorDecoding.typeName) ?? "non-tensor" }
        return ModelSummary(inputs: inputs.map(\.name), inputElementTypes: inputs.map(typeName),
                            outputs: g.outputs.map(\.name), outputElementTypes: g.outputs.map(typeName),
                            opTypes: g.nodes.map(\.opType), parameterInputs: params,
                            opset: model.opsets.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) })
    }

    /// The ONNX op types the importer handles: translated into IR ops, or folded when their inputs are constant.
    public static var translatedOperators: Set<String> { OpTranslation.translatedOps.union(["Constant"]) }
    public static var foldedOperators: Set<String> { OpTranslation.foldedOnlyOps }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImportError(.io, file: fileName(path), "cannot read file '\(path)'")
        }
        return [UInt8](data)
    }

    static func fileName(_ path: String) -> String { (path as NSString).lastPathComponent }
}
