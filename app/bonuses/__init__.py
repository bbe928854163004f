"""Bonus campaigns, player bonuses with wagering, cashback and loyalty."""
