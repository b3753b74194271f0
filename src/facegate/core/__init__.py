"""Types, error codes, crypto, media decoding and scoring: no web framework, no model runtime."""
