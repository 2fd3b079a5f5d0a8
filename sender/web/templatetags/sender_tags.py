from django import template

from sender.channels import methods
from sender.formats import money as format_money

register = template.Library()
register.filter("money", format_money)


@register.filter
def method_label(alias: str) -> str:
    """The configured method's label; the alias itself once it is no longer configured."""
    return str(methods[alias].label) if alias in methods.settings else alias
