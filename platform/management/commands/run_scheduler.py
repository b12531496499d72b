from django.core.management.base import BaseCommand

from fairlabel.broker import run_scheduler_forever


class Command(BaseCommand):
    help = "Send the periodic jobs to the broker on schedule (run one next to the dramatiq workers)."

    def handle(self, *args, **options):
        run_scheduler_forever()
