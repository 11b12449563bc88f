// The man page and completion scripts: the committed files are exactly what CommandSpec renders
// now, the page renders without a groff warning, and both scripts parse and complete (zsh on a pty).
import Foundation
import Testing
@testable import Portvisor
@testable import PortvisorBench
@testable import PortvisorCLI

@Suite struct GeneratedDocsTests {
    static let regenerate = "out of date: run scripts/generate-docs.sh and commit the result"

    @Test func committedFilesMatchTheRendering() throws {
        #expect(try Repository.read("docs/portvisor.1") == ManPage.render(), "docs/portvisor.1 \(Self.regenerate)")
        #expect(try Repository.read("contrib/completion/portvisor.bash") == Completions.bash(), "portvisor.bash \(Self.regenerate)")
        #expect(try Repository.read("contrib/completion/_portvisor") == Completions.zsh(), "_portvisor \(Self.regenerate)")
    }

    @Test func routesPrintTheSameBytes() throws {
        let man = try ChildProcess.runPortvisor(["help", "--man"])
        #expect(man.code == 0 && man.out == ManPage.render() && man.err.isEmpty)
        #expect(try ChildProcess.runPortvisor(["completion", "bash"]).out == Completions.bash())
        #expect(try ChildProcess.runPortvisor(["completion", "zsh"]).out == Completions.zsh())
        #expect(try ChildProcess.runPortvisor(["help", "check"]).out == CommandLineSpec.command(named: "check")!.help + "\n")
        let unknownShell = try ChildProcess.runPortvisor(["completion", "fish"])
        #expect(unknownShell.code == 64 && unknownShell.err.contains("unknown shell \"fish\""))
        let unknownCommand = try ChildProcess.runPortvisor(["help", "chek"])
        #expect(unknownCommand.code == 64 && unknownCommand.err.contains("did you mean \"check\"?"))
        #expect(try ChildProcess.runPortvisor(["help", "check", "--man"]).code == 64)
        let top = try ChildProcess.runPortvisor(["--help"]).out
        #expect(top.contains("portvisor completion SHELL") && top.contains("portvisor help [COMMAND|KIND] [--man]"))
    }

    @Test func manPageNamesEveryCommandAndOption() {
        let page = ManPage.render()
        for command in CommandLineSpec.commands {
            #expect(page.contains(".SS \"portvisor \(command.name)\""))
            for option in command.options {
                #expect(page.contains("\\fB\(Roff.escape(option.name))\\fR"), "\(command.name) \(option.name)")
            }
        }
        for code in [0, 1, 2, 3, 64, 66, 69, 70, 78] { #expect(page.contains(".TP\n\\fB\(code)\\fR\n")) }
        for line in page.split(separator: "\n") where !line.hasPrefix(".") {
            let ascii = line.allSatisfy { $0.isASCII }
            #expect(ascii, "non-ASCII in: \(line)")
        }
    }

    @Test func roffEscapes() {
        #expect(Roff.escape("--config=PATH one-line") == "\\-\\-config=PATH one-line")
        #expect(Roff.escape("\"ACK\\r\\n\" µs") == "\"ACK\\er\\en\" \\[u00B5]s")
        var roff = Roff()
        roff.text("A line\n.starts with a dot\n  term  its text\n        continued\nafter")
        #expect(roff.output == "A line\n\\&.starts with a dot\n.RS\n.TP 6n\n\\fBterm\\fR\nits text continued\n.RE\n.PP\nafter\n")
    }

    @Test(.enabled(if: Repository.hasTool("groff"), "groff is not installed (apt-get install groff-base); the man page is not rendered"))
    func manPageRendersWithoutWarnings() throws {
        let result = try Repository.shell("groff -man -Tutf8 -ww -z docs/portvisor.1")
        #expect(result.code == 0 && result.err.isEmpty, "groff: \(result.err)")
        let text = try Repository.shell("groff -man -Tutf8 -P-cbou docs/portvisor.1")
        #expect(text.out.contains("portvisor - a multi-service TCP and UDP port supervisor"))
        #expect(text.out.contains("--log-level LEVEL"))
    }

    @Test func bashScriptParsesAndCompletes() throws {
        #expect(try Repository.shell("bash -n contrib/completion/portvisor.bash").code == 0)
        let directory = try TempDirectory()
        let config = try directory.write("services.json", """
            { "status": false, "services": [ { "name": "echo", "kind": "echo", "port": 0 },
              { "name": "edge", "kind": "echo", "port": 0 }, { "name": "daytime", "kind": "daytime", "port": 0 } ] }
            """)
        let script = """
            source contrib/completion/portvisor.bash
            complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _portvisor; echo "${COMPREPLY[*]}"; }
            complete_words portvisor ch
            complete_words portvisor run --log-level ''
            complete_words portvisor run --log-level = w
            complete_words portvisor bench s
            complete_words "$PORTVISOR" connect --config "$CONFIG" e
            complete_words "$PORTVISOR" bench rr --config "$CONFIG" --service d
            complete_words portvisor completion ''
            complete_words portvisor help c
            complete_words portvisor check --j
            complete_words portvisor bench rr --timeout ''
            complete_words portvisor connect echo ''
            """
        let result = try Repository.shell(script, environment: ["PORTVISOR": ChildProcess.portvisorPath, "CONFIG": config])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) == [
            "check", "debug info warning error", "warning", "stream sentence", "echo edge", "daytime", "bash zsh",
            "check connect completion chargen", "--json", "", "", "",
        ])
    }

    /// Types each line and TAB into an interactive zsh (on a pty, with contrib/completion on
    /// $fpath), then ^T, bound to print the edit buffer: prints `[BUFFER]` per line.
    static let zshDriver = #"""
        zmodload zsh/zpty
        complete_line() {
          local out= chunk result=
          zpty z zsh -f -i
          zpty -w z 'PROMPT=; fpath=($COMPLETION_DIR $fpath); autoload -U compinit; compinit -u -D; bindkey "^I" complete-word; dump() { print -rn -- "<<$BUFFER>>" }; zle -N dump; bindkey "^T" dump; print RE""ADY'
          repeat 50; do
            while zpty -r -t z chunk; do out+=$chunk; done
            [[ $out == *READY[$'\r\n']* ]] && break
            sleep 0.1
          done
          zpty -w -n z "$1"$'\t\C-t'
          out=
          repeat 50; do
            sleep 0.1
            while zpty -r -t z chunk; do out+=$chunk; done
            [[ $out == *'<<'*'>>'* ]] && result=${${out##*<<}%%>>*} && break
          done
          zpty -d z
          print -r -- "[$result]"
        }
        complete_line 'portvisor ch'
        complete_line 'portvisor run --log-l'
        complete_line 'portvisor run --log-level=warn'
        complete_line 'portvisor bench conn'
        complete_line 'portvisor completion z'
        complete_line 'portvisor help --m'
        complete_line "$PORTVISOR connect --config $CONFIG ed"
        """#

    @Test(.enabled(if: Repository.hasTool("zsh"), "zsh is not installed (apt-get install zsh); the zsh script is not checked"))
    func zshScriptParsesAndCompletes() throws {
        #expect(try Repository.shell("zsh -n contrib/completion/_portvisor").code == 0)
        let load = try Repository.shell("zsh -fc 'autoload -Uz compinit; compinit -u -D; source contrib/completion/_portvisor; print -r -- ${_comps[portvisor]}'")
        #expect(load.code == 0 && load.out == "_portvisor\n" && load.err.isEmpty, "\(load.err)")
        let directory = try TempDirectory()
        let config = try directory.write("services.json", """
            { "status": false, "services": [ { "name": "echo", "kind": "echo", "port": 0 }, { "name": "edge", "kind": "echo", "port": 0 } ] }
            """)
        let script = try directory.write("drive.zsh", Self.zshDriver)
        let portvisor = ChildProcess.portvisorPath
        let result = try Repository.shell("zsh -f \(script)", environment: [
            "COMPLETION_DIR": Repository.path("contrib/completion"), "PORTVISOR": portvisor, "CONFIG": config,
        ], timeout: 60)
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out.split(separator: "\n").map(String.init) == [
            "[portvisor check ]", "[portvisor run --log-level=]", "[portvisor run --log-level=warning ]",
            "[portvisor bench connect ]", "[portvisor completion zsh ]", "[portvisor help --man ]",
            "[\(portvisor) connect --config \(config) edge ]",
        ])
    }
}
