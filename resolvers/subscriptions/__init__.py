"""Subscription resolvers (GraphQL over WebSocket)."""
