import SRCommands

SrccCommand.main()
