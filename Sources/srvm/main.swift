import SRCommands

SrvmCommand.main()
