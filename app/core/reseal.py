"""Re-sealing secrets at rest under the current PMS_SECRET_KEY (``pms keys reseal``).

Key rotation: set the new PMS_SECRET_KEY and list the previous one in PMS_OLD_SECRET_KEYS
(every replica), run the re-seal, then drop PMS_OLD_SECRET_KEYS. The composition root
names the sealed columns; this module only knows tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crypto import SecretKeyMismatch, seal, unseal_with_index
from app.core.settings import Settings


@dataclass(frozen=True)
class SealedColumn:
    table: Table
    column: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


async def reseal_column(session: AsyncSession, sealed: SealedColumn, settings: Settings) -> int:
    """Re-seal the values an old key opened (locked row by row); returns how many."""
    (pk,) = sealed.table.primary_key.columns
    column = sealed.table.c[sealed.column]
    rows = await session.execute(select(pk, column).where(column.is_not(None)).with_for_update())
    count = 0
    for key, value in rows.all():
        try:
            plaintext, index = unseal_with_index(value, settings)
        except SecretKeyMismatch:
            raise SecretKeyMismatch(sealed.name) from None
        if index == 0:  # already under the current key
            continue
        await session.execute(
            update(sealed.table).where(pk == key).values({sealed.column: seal(plaintext, settings)})
        )
        count += 1
    return count
