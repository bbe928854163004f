"""The root Query and Mutation types: one class per domain, merged."""

from strawberry.tools import merge_types

from resolvers.mutations.identity import IdentityMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.queries.identity import IdentityQueries
from resolvers.queries.players import PlayerQueries

Query = merge_types("Query", (PlayerQueries, IdentityQueries))
Mutation = merge_types("Mutation", (PlayerMutations, IdentityMutations))
