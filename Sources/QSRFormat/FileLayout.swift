/// Constants of the .qsr container (SPEC.md §5.4).
enum QSRLayout {
    static let magic: [UInt8] = [0x51, 0x53, 0x52, 0x00]          // "QSR\0"
    static let version: UInt16 = 2
    static let headerBytes = 16
    static let sectionEntryBytes = 16
    static let constantEntryBytes = 16
    static let alignment = 16
    /// The sections, in the only order a file may hold them.
    static let sectionTags = ["META", "VALS", "CNST", "DATA", "INST"]
    static var tableEnd: Int { headerBytes + sectionTags.count * sectionEntryBytes }

    static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    /// Bytes a constant's payload occupies in the DATA section.
    static func payloadBytes(_ kind: Constant.Kind, count: Int) -> Int {
        switch kind {
        case .int4: return (count + 1) / 2
        case .int8, .uint8: return count
        case .int32: return count * 4
        }
    }

    static func valueRange(_ kind: Constant.Kind) -> ClosedRange<Int32> {
        switch kind {
        case .int4: return -8...7
        case .int8: return -128...127
        case .uint8: return 0...255
        case .int32: return .min ... .max
        }
    }

    static func kindName(_ kind: Constant.Kind) -> String {
        switch kind {
        case .int4: return "int4"
        case .int8: return "int8"
        case .int32: return "int32"
        case .uint8: return "uint8"
        }
    }
}
