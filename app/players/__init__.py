"""Players: registration, profile rows and the queries over them."""
