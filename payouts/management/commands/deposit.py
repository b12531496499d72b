from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from fairlabel.money import money_str, parse_money
from payouts.selectors import balance_for_user
from payouts.services import deposit_create


class Command(BaseCommand):
    help = "Credit a requester's account with money from outside (a ledger entry)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("amount")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no account named {options['username']!r}")
        try:
            amount = parse_money(options["amount"], field="amount")
            deposit_create(user=user, amount=amount)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        balance = balance_for_user(user=user)
        self.stdout.write(
            f"deposited {money_str(amount)} to {user.username}; available {money_str(balance.available)}"
        )
