"""How the product writes money: one place for pages, progress events and reports alike."""

from decimal import Decimal

from django.template.defaultfilters import floatformat

from sender.conf import sender_settings


def money(value: Decimal | str | None) -> str:
    """A cost with the configured currency, to the cent (more digits only when they matter)."""
    if value in (None, ""):
        return ""
    amount = Decimal(str(value))
    digits = 2 if amount == round(amount, 2) else 4
    return f"{sender_settings.CURRENCY}\u00a0{floatformat(amount, digits)}"
