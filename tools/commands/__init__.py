"""One module per `ego360` subcommand; see ego360.tools.cli."""
