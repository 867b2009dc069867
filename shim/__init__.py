"""The stack host: syscall semantics, channels to shimmed programs, the CLI."""
