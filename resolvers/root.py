"""The root Query and Mutation types: one class per domain, merged."""

from strawberry.tools import merge_types

from resolvers.mutations.ledger import LedgerMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.queries.ledger import LedgerQueries
from resolvers.queries.players import PlayerQueries

Query = merge_types("Query", (PlayerQueries, LedgerQueries))
Mutation = merge_types("Mutation", (PlayerMutations, LedgerMutations))
