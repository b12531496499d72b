from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PayoutsConfig(AppConfig):
    name = "payouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payouts.services import accounts_forget

        # `flush` (between transactional tests) empties the tables and then sends post_migrate: the account
        # ids a process remembers would point at rows that no longer exist. Not domain logic: a cache reset.
        post_migrate.connect(accounts_forget, dispatch_uid="payouts_accounts_forget")
