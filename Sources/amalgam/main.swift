import AmalgamCLI

AmalgamCommand.runFromCommandLine()
