from django import template
from django.utils.translation import gettext

from sender.channels import methods
from sender.formats import money as format_money

register = template.Library()
register.filter("money", format_money)


@register.filter
def method_label(alias: str) -> str:
    """The configured method's label; the alias itself once it is no longer configured."""
    return str(methods[alias].label) if alias in methods.settings else alias


@register.filter
def shown_address(address: str, alias: str) -> str:
    """The address as staff read it: on-site storage keys its rows by the record
    ("17:322"), which means nothing to a person; they get "on-site inbox" instead."""
    if alias in methods.settings and methods[alias].kind == "storage":
        return gettext("on-site inbox")
    return address
