"""The ``ldedit`` command line: one entry point, one module per subcommand, I/O only."""
