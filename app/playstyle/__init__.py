"""Play-style profiling and lifetime value: per-player metrics kept from bet and payment events."""
