"""Passive liveness: video cues, their fusion, and optional frame-level model packs."""
