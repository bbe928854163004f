"""The tables segment rules and membership statements are written over, as Core tables."""

from __future__ import annotations

from sqlalchemy import Join, Table, inspect
from sqlmodel import SQLModel

from app.events.models import OutboxEvent
from app.players.models import Player
from app.playstyle.models import PlayerMetrics
from app.profiles.models import PlayerTag
from app.segments.models import SegmentMember


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a ``table=True`` model (SQLModel does not type ``__table__``)."""
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


P = table_of(Player)
M = table_of(PlayerMetrics)
T = table_of(PlayerTag)
SM = table_of(SegmentMember)
OE = table_of(OutboxEvent)
# The FROM every rule is evaluated over: one row per player.
BASE: Join = P.outerjoin(M, M.c.player_id == P.c.id)
