// The portvisor executable: all logic lives in the Portvisor library.
import Glibc
import Portvisor

exit(PortvisorCLI.main(Array(CommandLine.arguments.dropFirst())))
