"""Wallets: the player's balances (REAL, BONUS, FREESPINS, TOURNAMENT)."""
