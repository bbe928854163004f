"""Core primitives every layer may import: settings, database, money, errors, logging,
HTTP middleware, the principal, crypto and password hashing. Imports nothing above it."""
