"""crawler: verify a live API after a deploy."""
