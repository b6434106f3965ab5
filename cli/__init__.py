"""`radperturb`, the command line of radperturb."""
