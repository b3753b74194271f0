"""State shared between requests (and, with Redis, between API processes)."""
