#!/usr/bin/env python3
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # `python3 manage.py ...` runs in the project's own environment (.venv, which `make run` and `make test`
    # install), whichever Python started it.
    venv = Path(__file__).resolve().parent / ".venv"
    if (venv / "bin" / "python").exists() and Path(sys.prefix).resolve() != venv.resolve():
        os.execv(str(venv / "bin" / "python"), [str(venv / "bin" / "python"), *sys.argv])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlabel.settings")
    if sys.argv[1:2] == ["aggregate"]:
        # It reads and writes CSV files only: no database, no session, no signature, so it needs neither
        # DATABASE_URL nor SECRET_KEY (see FILES_ONLY in the settings).
        os.environ["FAIRLABEL_FILES_ONLY"] = "1"
    try:
        from django.core.management import execute_from_command_line
    except ImportError:
        sys.exit("Django is not installed for this Python: run `make run` once, which installs into .venv")

    execute_from_command_line(sys.argv)
