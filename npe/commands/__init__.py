"""The `npe` subcommands: each turns parsed arguments into calls on the library and prints the outcome."""
