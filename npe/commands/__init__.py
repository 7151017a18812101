"""The implementations of `npe` subcommands; npe.cli only parses arguments and dispatches here."""
