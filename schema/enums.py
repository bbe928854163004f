"""GraphQL enums, taken from the domain's enums so there is one list of values. Below
both schema/types and schema/inputs, so inputs never import types."""

import strawberry

from app.analytics.figures import Granularity
from app.bonuses.models import (
    AwardLimit,
    BonusKind,
    BonusStatus,
    CampaignKind,
    CampaignStatus,
    CampaignTrigger,
    WageringBase,
)
from app.kyc.models import KycCaseStatus
from app.players.models import ConfirmStatus, PlayerStatus, RiskLevel
from app.segments.models import SegmentKind
from app.wallets.models import WalletKind

# ``strawberry.enum`` registers the domain enum itself (it returns the same class), so
# the aliases below are real types for the type checker and the GraphQL enum at once.
PlayerStatusEnum = PlayerStatus
ConfirmStatusEnum = ConfirmStatus
RiskLevelEnum = RiskLevel
WalletKindEnum = WalletKind
CampaignKindEnum = CampaignKind
CampaignTriggerEnum = CampaignTrigger
CampaignStatusEnum = CampaignStatus
AwardLimitEnum = AwardLimit
WageringBaseEnum = WageringBase
BonusStatusEnum = BonusStatus
BonusKindEnum = BonusKind
SegmentKindEnum = SegmentKind
GranularityEnum = Granularity
KycCaseStatusEnum = KycCaseStatus

for _enum, _name in (
    (PlayerStatus, "PlayerStatus"),
    (ConfirmStatus, "ConfirmStatus"),
    (RiskLevel, "RiskLevel"),
    (WalletKind, "WalletKind"),
    (CampaignKind, "BonusCampaignKind"),
    (CampaignTrigger, "BonusTrigger"),
    (CampaignStatus, "BonusCampaignStatus"),
    (AwardLimit, "BonusAwardLimit"),
    (WageringBase, "WageringBase"),
    (BonusStatus, "BonusStatus"),
    (BonusKind, "BonusKind"),
    (SegmentKind, "SegmentKind"),
    (Granularity, "AnalyticsGranularity"),
    (KycCaseStatus, "KycCaseStatus"),
):
    strawberry.enum(_enum, name=_name)
