import CProtobufC
import ONNXProtoC

// Swift mirrors of the ONNX messages we read. Decoding copies everything out of the
// protobuf-c structures at once, so the rest of the importer never touches C memory.

struct ONNXModel {
    var irVersion: Int64
    var producerName: String
    var producerVersion: String
    var opsets: [(domain: String, version: Int64)]
    var graph: ONNXGraph
}

struct ONNXGraph {
    var name: String
    var nodes: [ONNXNode]
    var initializers: [ONNXTensor]
    var inputs: [ONNXValueInfo]
    var outputs: [ONNXValueInfo]
}

struct ONNXNode {
    var name: String
    var opType: String
    var domain: String
    var inputs: [String]
    var outputs: [String]
    var attributes: [String: ONNXAttribute]
}

enum ONNXAttribute {
    case float(Float)
    case int(Int64)
    case string(String)
    case tensor(ONNXTensor)
    case floats([Float])
    case ints([Int64])
    case strings([String])
    /// Graphs, sparse tensors, type protos, references: never needed by the ops we translate.
    case other(String)
}

enum ONNXDim: Equatable {
    case value(Int64)
    case param(String)
    case unknown
}

struct ONNXValueInfo {
    var name: String
    /// nil when the value is not a tensor (sequence, map...) or has no type.
    var elemType: Int32?
    /// nil when the shape is absent (rank unknown).
    var dims: [ONNXDim]?
}

/// A TensorProto's fields, undecoded (decoding lives in TensorDecoding.swift).
struct ONNXTensor {
    var name: String
    var dims: [Int64]
    var dataType: Int32
    var raw: [UInt8]?
    var floatData: [Float]
    var int32Data: [Int32]
    var int64Data: [Int64]
    var doubleData: [Double]
    var uint64Data: [UInt64]
    var isExternal: Bool
}

// MARK: - Unpacking

enum ProtoDecoder {
    static func model(bytes: [UInt8], file: String) throws -> ONNXModel {
        guard !bytes.isEmpty else { throw ImportError(.malformed, file: file, "empty file (0 bytes): not an ONNX model") }
        let message = bytes.withUnsafeBufferPointer { buf in
            onnx__model_proto__unpack(nil, buf.count, buf.baseAddress)
        }
        guard let message else {
            throw ImportError(.malformed, file: file, "not a valid ONNX protobuf (truncated or corrupt, \(bytes.count) bytes)")
        }
        defer { onnx__model_proto__free_unpacked(message, nil) }
        let m = message.pointee
        var opsets: [(String, Int64)] = []
        for p in array(m.opset_import, m.n_opset_import) {
            opsets.append((string(p.pointee.domain), p.pointee.has_version != 0 ? p.pointee.version : 0))
        }
        guard let g = m.graph else { throw ImportError(.malformed, file: file, "model has no graph") }
        return ONNXModel(irVersion: m.has_ir_version != 0 ? m.ir_version : 0,
                         producerName: string(m.producer_name), producerVersion: string(m.producer_version),
                         opsets: opsets, graph: graph(g.pointee))
    }

    static func tensor(bytes: [UInt8], file: String) throws -> ONNXTensor {
        guard !bytes.isEmpty else { throw ImportError(.malformed, file: file, "empty file (0 bytes): not a TensorProto") }
        let message = bytes.withUnsafeBufferPointer { buf in
            onnx__tensor_proto__unpack(nil, buf.count, buf.baseAddress)
        }
        guard let message else { throw ImportError(.malformed, file: file, "not a valid TensorProto (truncated or corrupt)") }
        defer { onnx__tensor_proto__free_unpacked(message, nil) }
        return tensor(message.pointee)
    }

    static func graph(_ g: Onnx__GraphProto) -> ONNXGraph {
        ONNXGraph(name: string(g.name),
                  nodes: array(g.node, g.n_node).map { node($0.pointee) },
                  initializers: array(g.initializer, g.n_initializer).map { tensor($0.pointee) },
                  inputs: array(g.input, g.n_input).map { valueInfo($0.pointee) },
                  outputs: array(g.output, g.n_output).map { valueInfo($0.pointee) })
    }

    static func node(_ n: Onnx__NodeProto) -> ONNXNode {
        var attributes: [String: ONNXAttribute] = [:]
        for a in array(n.attribute, n.n_attribute) {
            attributes[string(a.pointee.name)] = attribute(a.pointee)
        }
        return ONNXNode(name: string(n.name), opType: string(n.op_type), domain: string(n.domain),
                        inputs: strings(n.input, n.n_input), outputs: strings(n.output, n.n_output),
                        attributes: attributes)
    }

    static func attribute(_ a: Onnx__AttributeProto) -> ONNXAttribute {
        if a.ref_attr_name != nil, !string(a.ref_attr_name).isEmpty { return .other("reference") }
        let type = a.has_type != 0 ? Int(a.type.rawValue) : inferredType(a)
        switch type {
        case 1: return .float(a.f)
        case 2: return .int(a.i)
        case 3: return .string(text(a.s))
        case 4: return a.t.map { .tensor(tensor($0.pointee)) } ?? .other("tensor (missing)")
        case 6: return .floats(values(a.floats, a.n_floats))
        case 7: return .ints(values(a.ints, a.n_ints))
        case 8: return .strings(values(a.strings, a.n_strings).map(text))
        case 5: return .other("graph")
        case 9: return .other("tensors")
        case 10: return .other("graphs")
        default: return .other("type \(type)")
        }
    }

    /// Very old files leave `type` unset; infer it from the populated field.
    private static func inferredType(_ a: Onnx__AttributeProto) -> Int {
        if a.has_f != 0 { return 1 }
        if a.has_i != 0 { return 2 }
        if a.has_s != 0 { return 3 }
        if a.t != nil { return 4 }
        if a.g != nil { return 5 }
        if a.n_floats > 0 { return 6 }
        if a.n_ints > 0 { return 7 }
        if a.n_strings > 0 { return 8 }
        return 0
    }

    static func tensor(_ t: Onnx__TensorProto) -> ONNXTensor {
        ONNXTensor(name: string(t.name), dims: values(t.dims, t.n_dims),
                   dataType: t.has_data_type != 0 ? t.data_type : 0,
                   raw: t.has_raw_data != 0 ? bytes(t.raw_data) : nil,
                   floatData: values(t.float_data, t.n_float_data),
                   int32Data: values(t.int32_data, t.n_int32_data),
                   int64Data: values(t.int64_data, t.n_int64_data),
                   doubleData: values(t.double_data, t.n_double_data),
                   uint64Data: values(t.uint64_data, t.n_uint64_data),
                   isExternal: (t.has_data_location != 0 && t.data_location.rawValue == 1) || t.n_external_data > 0)
    }

    static func valueInfo(_ v: Onnx__ValueInfoProto) -> ONNXValueInfo {
        var info = ONNXValueInfo(name: string(v.name), elemType: nil, dims: nil)
        guard let type = v.type, type.pointee.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE,
              let tt = type.pointee.tensor_type else { return info }
        info.elemType = tt.pointee.has_elem_type != 0 ? tt.pointee.elem_type : 0
        if let shape = tt.pointee.shape {
            info.dims = array(shape.pointee.dim, shape.pointee.n_dim).map { d in
                switch d.pointee.value_case {
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE: return .value(d.pointee.dim_value)
                case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                    let p = string(d.pointee.dim_param)
                    return p.isEmpty ? .unknown : .param(p)
                default: return .unknown
                }
            }
        }
        return info
    }

    // MARK: C helpers (all tolerate NULL)

    static func string(_ p: UnsafeMutablePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    static func strings(_ p: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ n: Int) -> [String] {
        guard let p, n > 0 else { return [] }
        return (0..<n).map { string(p[$0]) }
    }

    static func array<T>(_ p: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ n: Int) -> [UnsafeMutablePointer<T>] {
        guard let p, n > 0 else { return [] }
        return (0..<n).compactMap { p[$0] }
    }

    static func values<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> [T] {
        guard let p, n > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: n))
    }

    static func bytes(_ b: ProtobufCBinaryData) -> [UInt8] {
        guard let d = b.data, b.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: d, count: b.len))
    }

    static func text(_ b: ProtobufCBinaryData) -> String { String(decoding: bytes(b), as: UTF8.self) }
}
