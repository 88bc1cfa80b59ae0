/// Why a model could not be imported, with where: file, node name, op type and opset.
/// Printed as `edsr.onnx: node 'foo' (op Gelu, opset 17): unsupported operator`.
public struct ImportError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case io                    // the file could not be read
        case malformed             // not a valid protobuf / ONNX structure
        case unsupportedOpset      // domain or opset version outside what we accept
        case unsupportedOperator   // op type we do not translate
        case unsupportedAttribute  // attribute value or mode we do not translate
        case unsupportedType       // a non-float tensor where float is required
        case externalData          // tensor data stored outside the file
        case nonConstantParameter  // an input the compiler needs at compile time is not constant
        case undefinedValue        // a name used but never defined
        case invalidGraph          // shapes or structure that do not check
    }

    public var kind: Kind
    public var file: String
    public var node: String?
    public var op: String?
    public var opset: Int?
    public var message: String

    public init(_ kind: Kind, file: String, node: String? = nil, op: String? = nil, opset: Int? = nil, _ message: String) {
        self.kind = kind; self.file = file; self.node = node; self.op = op; self.opset = opset; self.message = message
    }

    public var description: String {
        var text = file.isEmpty ? "" : file + ": "
        if let node {
            text += "node '\(node)'"
            var details: [String] = []
            if let op { details.append("op \(op)") }
            if let opset { details.append("opset \(opset)") }
            if !details.isEmpty { text += " (" + details.joined(separator: ", ") + ")" }
            text += ": "
        } else if let op {
            text += "op \(op)" + (opset.map { ", opset \($0)" } ?? "") + ": "
        }
        return text + message
    }
}
