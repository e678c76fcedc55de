"""How a target is reached: run a command, move files. Local and SSH behave the same."""
