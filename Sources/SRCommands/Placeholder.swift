// module SRCommands: under construction
