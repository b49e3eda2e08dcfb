"""One module per subcommand group; `bench.cli` attaches them. Each parses, calls library code, prints."""
