"""REST paths for microservices (``/players``...), on the same services as GraphQL."""

from resolvers.rest.players import rest_routes

__all__ = ["rest_routes"]
