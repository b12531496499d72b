"""Every cell whose first visible character could start a formula is neutralised, in every CSV the platform
writes; other cells are left exactly as they were."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.test import Client

from fairlabel.spreadsheets import spreadsheet_row, spreadsheet_safe
from payouts.providers import BatchFileProvider, PayoutRequest
from tasks.models import Task
from tests.factories import PoolFactory, TaskFactory, fund
from workflows import assignments as assignments_flow
from workflows import pools as pools_flow

# Each starts a formula in a spreadsheet once leading invisible characters are skipped and full-width forms read.
RUNNABLE = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    " =1",
    "   @SUM(A1)",
    "\u00a0=1",  # no-break space
    "\u200b=1",  # zero-width space
    "\u200c\u200d=1",  # zero-width non-joiner, joiner
    "\u2060=1",  # word joiner
    "\ufeff=1",  # byte-order mark
    "\u3000=1",  # ideographic space
    "\u2028=1",  # line separator
    "\uff1d1+1",  # full-width equals
    "\uff0b1",  # full-width plus
    "\uff0d1",  # full-width hyphen-minus
    "\uff20SUM(A1)",  # full-width commercial at
    "\ufe661+1",  # small equals sign
    "\t",
    "\n",
]
HARMLESS = ["hello", "Cat", "42", "0.5", "a=1", "café", "'quoted", "", " plain", "\u200bword", "日本"]


@pytest.mark.parametrize("cell", RUNNABLE)
def test_a_cell_that_could_start_a_formula_gets_an_apostrophe(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", HARMLESS)
def test_other_cells_are_left_as_they_are(cell):
    assert spreadsheet_safe(cell) == cell


def test_numbers_and_empty_cells_pass_through():
    assert spreadsheet_row([None, 3, -2, Decimal("1.5"), "=x"]) == ["", 3, -2, Decimal("1.5"), "'=x"]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["answers", "results"])
def test_pool_downloads_neutralise_the_whole_class(api, requester, worker, kind):
    fund(requester, "50.00")
    labels = ["\u00a0=HYPERLINK(1)", "\uff1dcmd"]
    pool = PoolFactory.create(requester=requester, labels=labels)
    TaskFactory.create(pool=pool)
    pools_flow.pool_open(pool=pool)
    Task.objects.filter(pool=pool).update(external_id="\u200b+cmd")
    assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
    assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=labels[0])
    page = Client()
    page.force_login(requester)
    for response in (
        page.get(f"/pools/{pool.pk}/download/{kind}/?format=csv"),
        api(requester).get(f"/api/v1/pools/{pool.pk}/{kind}/?format=csv"),
    ):
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[0]["external_id"] == "'\u200b+cmd"
        assert rows[0]["label"] == "'" + labels[0]


@pytest.mark.django_db
def test_the_data_export_neutralises_its_csv_files(requester):
    PoolFactory.create(requester=requester, name=' =HYPERLINK("http://evil.example")')
    page = Client()
    page.force_login(requester)
    response = page.get("/me/data/export/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)
    )
    pools = list(csv.DictReader(io.StringIO(archive.read("pools.csv").decode())))
    assert pools[0]["name"] == '\' =HYPERLINK("http://evil.example")'
    assert json.loads(archive.read("profile.json"))  # JSON files carry values unchanged


def test_the_payout_batch_file_neutralises_cells_and_still_recognises_a_retry(tmp_path, settings):
    settings.PAYOUT_BATCH_DIR = tmp_path
    from datetime import UTC, datetime

    request = PayoutRequest(
        withdrawal_id=7,
        idempotency_key="=cmd|' /C calc'!A0",
        payee_id=3,
        payee_username="\u3000@evil",
        payee_email="w@example.com",
        amount=Decimal("12.50"),
        currency="USD",
        requested_at=datetime(2026, 12, 2, tzinfo=UTC),
    )
    provider = BatchFileProvider()
    provider.pay(request)
    provider.pay(request)  # a retry finds its line instead of writing a second one
    (path,) = tmp_path.iterdir()
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert len(rows) == 2  # the header and one payment
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][3] == "'\u3000@evil"
