import SRGraph

/// Old exporters wrote PixelShuffle as Reshape -> Transpose -> Reshape:
///   CRD: [N, C*r*r, H, W] -> [N, C, r, r, H, W] -perm [0,1,4,2,5,3]-> -> [N, C, H*r, W*r]
///   DCR: [N, r*r*C, H, W] -> [N, r, r, C, H, W] -perm [0,3,4,1,5,2]-> -> [N, C, H*r, W*r]
/// The rank-6 intermediates have two symbolic dims, which the IR's Reshape cannot express,
/// so the chain becomes one DepthToSpace (only when the intermediates have no other users).
enum PixelShuffleRewrite {
    static func apply(_ nodes: [PendingNode], shapes: [String: Shape], graphOutputs: Set<String>) -> [PendingNode] {
        var users: [String: Int] = [:]
        for n in nodes { for i in n.inputs where !i.isEmpty { users[i, default: 0] += 1 } }
        var producer: [String: Int] = [:]
        for (k, n) in nodes.enumerated() { for o in n.outputs { producer[o] = k } }

        var replaced: [Int: PendingNode] = [:]
        var removed = Set<Int>()
        for (k, last) in nodes.enumerated() {
            guard case .reshape(let finalTarget, _) = last.kind, finalTarget.count == 4,
                  let tk = producer[last.inputs[0]], case .op(.transpose(let perm)) = nodes[tk].kind,
                  let rk = producer[nodes[tk].inputs[0]], case .reshape(let split, _) = nodes[rk].kind, split.count == 6,
                  !removed.contains(tk), !removed.contains(rk),
                  single(nodes[tk].outputs[0], users, graphOutputs), single(nodes[rk].outputs[0], users, graphOutputs),
                  let x = shapes[nodes[rk].inputs[0]], x.count == 4 else { continue }
            let mode: DepthToSpaceMode
            let c: Dim, r: Int
            if perm == [0, 1, 4, 2, 5, 3], let r1 = split[2].value, split[3].value == r1 {
                mode = .crd; c = split[1]; r = r1
            } else if perm == [0, 3, 4, 1, 5, 2], let r1 = split[1].value, split[2].value == r1 {
                mode = .dcr; c = split[3]; r = r1
            } else { continue }
            guard r >= 1, split[0] == x[0], split[4] == x[2], split[5] == x[3],
                  let cv = c.value, x[1].value == cv * r * r,
                  let h = x[2].multiplied(by: r), let w = x[3].multiplied(by: r),
                  finalTarget == [x[0], c, h, w] else { continue }
            replaced[k] = PendingNode(name: last.name, kind: .op(.depthToSpace(blockSize: r, mode: mode)),
                                      inputs: [nodes[rk].inputs[0]], outputs: last.outputs, onnxOp: "DepthToSpace")
            removed.insert(tk); removed.insert(rk)
        }
        var out: [PendingNode] = []
        for (k, n) in nodes.enumerated() where !removed.contains(k) { out.append(replaced[k] ?? n) }
        return out
    }

    private static func single(_ value: String, _ users: [String: Int], _ outputs: Set<String>) -> Bool {
        users[value] == 1 && !outputs.contains(value)
    }
}
