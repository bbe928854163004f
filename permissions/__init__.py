"""Access control: the role -> permission matrix and the Strawberry permission classes
that enforce it per field and per mutation."""
