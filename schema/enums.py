"""GraphQL enums, taken from the domain's enums so there is one list of values."""

import strawberry

from app.players.models import ConfirmStatus, PlayerStatus, RiskLevel
from app.wallets.models import WalletKind

PlayerStatusEnum = strawberry.enum(PlayerStatus, name="PlayerStatus")
ConfirmStatusEnum = strawberry.enum(ConfirmStatus, name="ConfirmStatus")
RiskLevelEnum = strawberry.enum(RiskLevel, name="RiskLevel")
WalletKindEnum = strawberry.enum(WalletKind, name="WalletKind")
