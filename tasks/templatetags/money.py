from decimal import Decimal

from django import template

from fairlabel.money import money_str

register = template.Library()


@register.filter
def money(value: Decimal | str | None) -> str:
    """Money as the API writes it: '0.03', '0.025', '12.50'."""
    if value is None or value == "":
        return ""
    return money_str(Decimal(str(value)))
