"""An app module whose own code fails while importing (for the --app error test)."""

raise RuntimeError("database URL missing")
