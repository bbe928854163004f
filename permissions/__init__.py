"""Access control: the role -> permission matrix (roles.py) and the Strawberry permission
classes that enforce it per field and per mutation (rules.py). See README.md for how a
resolver declares its requirement."""
