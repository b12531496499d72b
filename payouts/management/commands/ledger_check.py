from django.core.management.base import BaseCommand, CommandError

from fairlabel.money import money_str
from payouts.services import ledger_check_run


class Command(BaseCommand):
    help = "Verify every ledger invariant; exit non-zero with a report on any breach. The result is recorded."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--no-record", action="store_true", help="do not store the result for the admin site"
        )

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        report = ledger_check_run(record=not options["no_record"])
        self.stdout.write(
            f"ledger_check: {report.transactions} transactions, {report.entries} entries, {report.duration_ms} ms"
        )
        for kind, total in sorted(report.totals.items()):
            self.stdout.write(f"  {kind:<24} {money_str(total):>20}")
        if report.problems:
            lines = "\n".join(f"  - {problem}" for problem in report.problems)
            raise CommandError(f"{len(report.problems)} ledger breach(es):\n{lines}", returncode=1)
        self.stdout.write(self.style.SUCCESS("OK: every invariant holds."))
