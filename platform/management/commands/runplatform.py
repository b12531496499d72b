import signal
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from demo.accounts import DEMO_ACCOUNTS
from fairlabel.broker import start_in_process_jobs


class Command(BaseCommand):
    help = "Serve the whole platform in one process: web, background jobs and their schedule (`make run`)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, **options):
        # A stop by SIGTERM (kill, a process manager) exits like Ctrl-C, so exit handlers run: the embedded
        # database server stops with the platform.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        if not settings.DRAMATIQ_BROKER_URL:
            start_in_process_jobs()
            jobs = "background jobs run inside this process (in-memory broker)"
        else:
            jobs = f"background jobs go to {settings.DRAMATIQ_BROKER_URL}: run `make worker` beside this"
        url = f"http://{options['addrport']}/"
        db = settings.DATABASES["default"]
        where = f"embedded PostgreSQL, data in {db['HOST']}" if db["HOST"].startswith("/") else db["HOST"]
        lines = [
            "",
            f"  Fairlabel is running at {url}",
            f"  {jobs}",
            f"  database: {db['NAME']} ({where})",
            "",
            "  Demo logins (username / password):",
            *[f"    {a.role:<10} {a.username:<12} {a.password}" for a in DEMO_ACCOUNTS],
            "",
            f"  API docs: {url}api/docs/   Django admin: {url}admin/",
            "",
        ]
        self.stdout.write("\n".join(lines))
        call_command("runserver", options["addrport"], use_reloader=False)
