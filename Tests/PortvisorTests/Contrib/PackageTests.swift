// scripts/package.sh: the Debian package, built from this test run's binary, unpacked into a
// scratch root (dpkg-deb -x) and used there: the binary runs, the manual page renders, the
// packaged services.json is valid, and systemd-analyze verify accepts the installed unit.
import Foundation
import Testing
@testable import Portvisor

@Suite(.enabled(if: Repository.hasTool("dpkg-deb"), "dpkg-deb is not installed")) struct PackageTests {
    static func run(_ path: String, _ arguments: [String], directory: String? = nil) throws -> (code: Int32, out: String, err: String) {
        let child = try ChildProcess(path, arguments, directory: directory)
        child.closeStdin()
        let code = try child.waitForExit(timeout: 120)
        return (code, child.stdoutText, child.stderrText)
    }

    @Test func thePackageInstallsLikeASystemTool() throws {
        let scratch = try TempDirectory()
        // The test build's binary links the toolchain's Swift libraries, hence --allow-dynamic;
        // CI packages the static release build without it.
        let build = try Self.run("/bin/bash", [Repository.path("scripts/package.sh"), "--binary", ChildProcess.portvisorPath,
                                               "--out", scratch.file("dist"), "--allow-dynamic"])
        #expect(build.code == 0, "\(build.err)")
        let deb = build.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb == scratch.file("dist/portvisor_\(Release.version)_amd64.deb") || deb.hasSuffix(".deb"))
        let info = try Self.run("/usr/bin/dpkg-deb", ["--field", deb, "Package", "Version", "Depends"])
        #expect(info.out.contains("Package: portvisor") && info.out.contains("Version: \(Release.version)") && info.out.contains("libc6 (>= "), "\(info.out)")
        let conffiles = try Self.run("/usr/bin/dpkg-deb", ["--info", deb, "conffiles"])
        #expect(conffiles.out == "/etc/portvisor/services.json\n", "an edited services.json survives upgrades: \(conffiles.out)")

        let root = scratch.file("root")
        #expect(try Self.run("/usr/bin/dpkg-deb", ["-x", deb, root]).code == 0)
        for file in ["usr/bin/portvisor", "usr/lib/systemd/system/portvisor.service", "etc/portvisor/services.json",
                     "usr/share/man/man1/portvisor.1.gz", "usr/share/bash-completion/completions/portvisor",
                     "usr/share/zsh/vendor-completions/_portvisor", "usr/share/doc/portvisor/copyright"] {
            #expect(FileManager.default.fileExists(atPath: "\(root)/\(file)"), "\(file) is not in the package")
        }
        let version = try Self.run("\(root)/usr/bin/portvisor", ["--version"])
        #expect(version.code == 0 && version.out == "portvisor \(Release.version)\n")
        let check = try Self.run("\(root)/usr/bin/portvisor", ["check", "--config", "\(root)/etc/portvisor/services.json"])
        #expect(check.code == 0, "\(check.err)")
        if Repository.hasTool("man") {
            let page = try Self.run("/usr/bin/man", ["-l", "\(root)/usr/share/man/man1/portvisor.1.gz"])
            #expect(page.code == 0 && page.out.contains("portvisor stop") && page.out.contains("EXIT STATUS"), "\(page.err)")
        }
        let unit = try String(contentsOfFile: "\(root)/usr/lib/systemd/system/portvisor.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/bin/portvisor run --config /etc/portvisor/services.json"))
        #expect(unit.contains("ExecReload=/usr/bin/portvisor reload"))
        #expect(!unit.contains("/usr/local/") && !unit.contains("Sockets="))
        if Repository.hasTool("systemd-analyze") && FileManager.default.fileExists(atPath: "/usr/lib/systemd/system") {
            // verify loads the units the service depends on: give the root the distribution's.
            try FileManager.default.createDirectory(atPath: "\(root)/usr/lib/systemd", withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/systemd/system")
            where !FileManager.default.fileExists(atPath: "\(root)/usr/lib/systemd/system/\(name)") {
                try? FileManager.default.copyItem(atPath: "/usr/lib/systemd/system/\(name)", toPath: "\(root)/usr/lib/systemd/system/\(name)")
            }
            let verify = try Self.run("/usr/bin/systemd-analyze", ["verify", "--root=\(root)", "--man=no", "portvisor.service"])
            #expect(verify.code == 0 && verify.out.isEmpty && verify.err.isEmpty, "\(verify.out)\(verify.err)")
        }
    }
}
