// contrib/kubernetes/: the services.json inside the ConfigMap is valid, and both workloads expose
// exactly its ports and probe its status port (kubernetes-validate checks the schemas in CI).
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct KubernetesManifestsTests {
    /// The `services.json: |` block of configmap.yaml, dedented.
    static func embeddedConfig() throws -> String {
        let lines = try Repository.read("contrib/kubernetes/configmap.yaml").split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "services.json: |" }) else {
            throw TestFailure("no services.json block in configmap.yaml")
        }
        let block = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }
        return block.map { String($0.dropFirst(4)) }.joined(separator: "\n")
    }

    /// `containerPort: N, protocol: P` pairs of a manifest, as "N/P".
    static func containerPorts(_ file: String) throws -> Set<String> {
        let pattern = try NSRegularExpression(pattern: #"containerPort: (\d+), protocol: (TCP|UDP)"#)
        let text = try Repository.read("contrib/kubernetes/\(file)")
        return Set(pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { match in
            "\((text as NSString).substring(with: match.range(at: 1)))/\((text as NSString).substring(with: match.range(at: 2)))"
        })
    }

    @Test func configMapHoldsAValidConfigAndTheWorkloadsMatchIt() throws {
        let directory = try TempDirectory()
        let path = try directory.write("services.json", try Self.embeddedConfig())
        let check = try ChildProcess.runPortvisor(["check", "--config", path])
        #expect(check.code == 0, "\(check.err)")
        let config = try ConfigLoader.load(path: path)
        let status = try #require(config.status)
        #expect(status.host == "0.0.0.0", "the kubelet probes the status endpoint from outside the pod")
        let expected = Set(config.services.map { "\($0.port)/\($0.transport == .udp ? "UDP" : "TCP")" } + ["\(status.port)/TCP"])
        for file in ["daemonset.yaml", "deployment.yaml"] {
            #expect(try Self.containerPorts(file) == expected, "\(file)")
            let text = try Repository.read("contrib/kubernetes/\(file)")
            #expect(text.contains("{ name: status, containerPort: \(status.port), protocol: TCP }"))
            #expect(text.components(separatedBy: "httpGet: { path: /healthz, port: status }").count == 3, "\(file): readiness and liveness")
            for setting in ["runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", #"drop: ["ALL"]"#] {
                #expect(text.contains(setting), "\(file): \(setting)")
            }
        }
        #expect(try Repository.read("contrib/kubernetes/daemonset.yaml").contains("hostNetwork: true"))
    }
}
