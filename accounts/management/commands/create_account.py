import secrets

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import account_create


class Command(BaseCommand):
    help = "Create an account and print its API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="defaults to a random password, printed")
        parser.add_argument("--email", default="")

    def handle(self, *args, **options):
        password = options["password"] or secrets.token_urlsafe(12)
        try:
            user = account_create(
                username=options["username"], password=password, role=options["role"], email=options["email"]
            )
        except (ValueError, ValidationError) as exc:
            message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        if not options["password"]:
            self.stdout.write(f"password: {password}")
        self.stdout.write(f"created {user.role} {user.username}")
        self.stdout.write(user.auth_token.key)
