// The portvisor executable: all logic lives in the PortvisorCLI and Portvisor libraries.
import PortvisorCLI

PortvisorCLI.exit(PortvisorCLI.main(Array(CommandLine.arguments.dropFirst())))
