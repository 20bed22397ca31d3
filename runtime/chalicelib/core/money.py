"""Money and exact quantities at the edges: integer cents, plain decimal strings, dollars for people.

Amounts are ``Decimal`` end to end and no float touches one. The API carries
amounts as integer cents and quantities and prices as plain decimal strings;
the invoice e-mail shows dollars. Billing, invoices and metering all format
through here, so none of them depends on another for it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

# Wide enough that no product of a stored quantity (24 digits) and a stored
# price (14 digits) is ever rounded before we round it to cents ourselves.
EXACT = Context(prec=100, rounding=ROUND_HALF_UP)


# Both below pass EXACT as the operation's context rather than entering localcontext(EXACT): the
# same arithmetic, without a context switch per call (a billing run makes several per invoice).


def round_half_up(value: Decimal) -> Decimal:
    """Round to whole cents, half up (ties away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=EXACT)


def cents(amount: Decimal) -> int:
    """Integer cents of an amount already rounded to cents (the API's money unit)."""
    return int(EXACT.multiply(amount, HUNDRED).to_integral_value(rounding=ROUND_HALF_UP, context=EXACT))


def plain(value: Decimal, *, grouped: bool = False) -> str:
    """A decimal without exponent or trailing zeros: ``100000.000000`` → ``"100000"``, ``0.0015`` stays."""
    if value == 0:
        return "0"
    normalized = value.normalize()
    return format(normalized, ",f" if grouped else "f")


def dollars(amount: Decimal) -> str:
    """An amount as a person reads it: ``Decimal("1234.5")`` → ``"$1,234.50"``."""
    return f"${amount:,.2f}"
