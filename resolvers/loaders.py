"""The per-request DataLoader registry (defined in schema/loaders.py, beside the types
whose fields use it); re-exported here for the request context's builder."""

from schema.loaders import Loaders

__all__ = ["Loaders"]
