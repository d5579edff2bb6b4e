"""One module per `ego360` subcommand; see runtime.cli."""
