"""The root Query and Mutation types: one class per domain, merged."""

from strawberry.tools import merge_types

from resolvers.mutations.kyc import KycMutations
from resolvers.mutations.players import PlayerMutations
from resolvers.mutations.segments import SegmentMutations
from resolvers.queries.players import PlayerQueries
from resolvers.queries.segments import SegmentQueries

Query = merge_types("Query", (PlayerQueries, SegmentQueries))
Mutation = merge_types("Mutation", (PlayerMutations, KycMutations, SegmentMutations))
