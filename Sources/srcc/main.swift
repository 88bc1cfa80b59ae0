import SRCommands
