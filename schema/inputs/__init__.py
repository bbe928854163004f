"""GraphQL input types."""
