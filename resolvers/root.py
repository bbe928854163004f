"""The root Query, Mutation and Subscription types: one class per domain, merged."""

from strawberry.tools import merge_types

from resolvers.mutations.bonus import BonusMutations
from resolvers.mutations.identity import IdentityMutations
from resolvers.mutations.kyc import KycMutations
from resolvers.mutations.ledger import LedgerMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.mutations.segments import SegmentMutations
from resolvers.mutations.webhooks import WebhookMutations
from resolvers.queries.bonus import BonusQueries
from resolvers.queries.identity import IdentityQueries
from resolvers.queries.ledger import LedgerQueries
from resolvers.queries.players import PlayerQueries
from resolvers.queries.segments import SegmentQueries
from resolvers.queries.webhooks import WebhookQueries
from resolvers.subscriptions.players import PlayerSubscriptions

Query = merge_types(
    "Query",
    (PlayerQueries, IdentityQueries, LedgerQueries, BonusQueries, SegmentQueries,
     WebhookQueries),
)  # fmt: skip
Mutation = merge_types(
    "Mutation",
    (PlayerMutations, IdentityMutations, LedgerMutations, BonusMutations, KycMutations,
     SegmentMutations, WebhookMutations),
)  # fmt: skip
Subscription = merge_types("Subscription", (PlayerSubscriptions,))
