"""GraphQL enums, taken from the domain's enums so there is one list of values. Below
both schema/types and schema/inputs, so inputs never import types."""

import strawberry

from app.bonuses.models import (
    AwardLimit,
    BonusKind,
    BonusStatus,
    CampaignKind,
    CampaignStatus,
    CampaignTrigger,
    WageringBase,
)
from app.players.models import ConfirmStatus, PlayerStatus, RiskLevel
from app.wallets.models import WalletKind

PlayerStatusEnum = strawberry.enum(PlayerStatus, name="PlayerStatus")
ConfirmStatusEnum = strawberry.enum(ConfirmStatus, name="ConfirmStatus")
RiskLevelEnum = strawberry.enum(RiskLevel, name="RiskLevel")
WalletKindEnum = strawberry.enum(WalletKind, name="WalletKind")

CampaignKindEnum = strawberry.enum(CampaignKind, name="BonusCampaignKind")
CampaignTriggerEnum = strawberry.enum(CampaignTrigger, name="BonusTrigger")
CampaignStatusEnum = strawberry.enum(CampaignStatus, name="BonusCampaignStatus")
AwardLimitEnum = strawberry.enum(AwardLimit, name="BonusAwardLimit")
WageringBaseEnum = strawberry.enum(WageringBase, name="WageringBase")
BonusStatusEnum = strawberry.enum(BonusStatus, name="BonusStatus")
BonusKindEnum = strawberry.enum(BonusKind, name="BonusKind")
