"""Thin GraphQL resolvers: parse input, call one app/ service, map the result or the
DomainError to a schema type."""
