"""The demo platforms (placeholder until the generator lands)."""
