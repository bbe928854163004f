"""ISO 4217 minor-unit exponents of the currencies PMS can hold, and the free-spin unit.

Amounts are integers in minor units everywhere inside PMS; the exponent says how many
decimal places the API accepts and shows for a currency.
"""

from __future__ import annotations

# ISO 4217 exponents. A currency must be listed here to be enabled in settings.
CURRENCY_EXPONENTS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "BRL": 2, "MXN": 2, "JPY": 0,
    "INR": 2, "ZAR": 2, "TRY": 2, "KWD": 3, "BHD": 3, "CLP": 0, "KRW": 0,
}  # fmt: skip

# Free spins are counted in whole spins. "X" codes are ISO 4217's private-use range, so
# this can never collide with a real currency, and the ledger's per-currency zero sum
# keeps spins apart from money.
FREE_SPINS_UNIT = "XFS"
CURRENCY_EXPONENTS[FREE_SPINS_UNIT] = 0


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[currency]
