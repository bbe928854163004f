"""The per-request context every resolver receives (``strawberry.Info[Context, None]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from app.core.db import Database
from app.core.principal import Principal
from app.core.settings import Settings
from app.identity.runtime import IdentityRuntime
from app.identity.tokens import AccessClaims
from schema.loaders import Loaders


@dataclass
class Context:
    db: Database
    settings: Settings
    loaders: Loaders
    request_id: str
    request: Any = None
    principal: Principal = field(default_factory=Principal.anonymous)
    claims: AccessClaims | None = None
    identity: IdentityRuntime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Realtime: the process's EventsRuntime (hub, cache) and a WebSocket's connection_init.
    events: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    # The replica read router (app/core/replicas.py), when replicas are configured.
    reads: Any = None
    # The process's group commit of single money operations (app/ledger/coalesce.py),
    # None when PMS_LEDGER_COALESCE is off.
    coalescer: Any = None


Info = strawberry.Info[Context, None]
