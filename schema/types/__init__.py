"""Hand-written GraphQL types. Each maps a row with ``from_model`` and lists its fields
explicitly, so a new column stays private until someone exposes it on purpose."""
