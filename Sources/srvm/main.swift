import SRVMCommands

SrvmCommand.main()
