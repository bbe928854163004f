"""The root Query and Mutation types: one class per domain, merged."""

from strawberry.tools import merge_types

from resolvers.mutations.bonus import BonusMutations
from resolvers.mutations.ledger import LedgerMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.queries.bonus import BonusQueries
from resolvers.queries.ledger import LedgerQueries
from resolvers.queries.players import PlayerQueries

Query = merge_types("Query", (PlayerQueries, LedgerQueries, BonusQueries))
Mutation = merge_types("Mutation", (PlayerMutations, LedgerMutations, BonusMutations))
