from django.core.management.base import BaseCommand

from demo.load import demo_load


class Command(BaseCommand):
    help = "Create the demo accounts and an open moderation pool, once (running it again changes nothing)."

    def handle(self, *args, **options):
        pool = demo_load()
        if pool is None:
            self.stdout.write("Demo already loaded.")
            return
        self.stdout.write(f"Demo loaded: pool #{pool.pk} with {pool.tasks.count()} tasks.")
