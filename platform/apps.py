from pathlib import Path

from django.apps import AppConfig


class FairlabelConfig(AppConfig):
    """The project package as an app, so that its runners are `manage.py` commands."""

    name = "fairlabel"
    # `platform/` has no __init__.py (see pyproject.toml), so Django cannot tell its one folder by itself.
    path = str(Path(__file__).resolve().parent)
