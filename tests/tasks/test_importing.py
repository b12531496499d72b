"""Task files: CSV, JSONL and JSON, streamed, validated row by row, all or nothing."""

from __future__ import annotations

import io
import json

import pytest

from fairlabel.errors import ServiceError
from quality.types import row_check
from tasks.importing import CountingReader, RowCheck, rows_from_upload
from tasks.models import Pool
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

LABELS = ["OK", "Bad"]
CHECK: RowCheck = row_check(Pool(labels=LABELS))


def parse(name: str, content: bytes):
    return list(rows_from_upload(name=name, file=io.BytesIO(content), check=CHECK))


def rejected_row(name: str, content: bytes) -> tuple[int, str]:
    with pytest.raises(ServiceError) as caught:
        parse(name, content)
    return caught.value.details.get("row"), caught.value.message


@pytest.mark.parametrize(
    "content",
    [
        b'[{"data": {"title": "Lamp"}}, {"data": {"title": "Gun"}, "golden": "Bad", "external_id": 7}]',
        b'{"tasks": [{"data": {"title": "Lamp"}}, {"data": {"title": "Gun"}, "golden": "Bad", "external_id": "7"}]}',
        b'\xef\xbb\xbf  [{"data": {"title": "Lamp"}},\n {"data": {"title": "Gun"}, "golden": "Bad", "external_id": 7}]',
    ],
)
def test_json_files_as_an_array_or_an_object(content):
    rows = parse("tasks.json", content)
    assert [r.data for r in rows] == [{"title": "Lamp"}, {"title": "Gun"}]
    assert rows[1].golden == "Bad" and rows[1].external_id == "7"
    assert json.loads(rows[0].data_json) == {"title": "Lamp"}


def test_json_numbers_stay_numbers():
    (row,) = parse("t.json", b'[{"data": {"price": 12.5, "count": 3}}]')
    assert row.data == {"price": 12.5, "count": 3}


@pytest.mark.parametrize(
    ("content", "row", "problem"),
    [
        (b'[{"data": {"a": 1}}, {"data": {"a": 2}}, {"data": {}}]', 3, "missing data"),
        (b'[{"data": {"a": 1}}, {"data": {"a": 2}, "golden": "Maybe"}]', 2, "unknown golden label"),
        (b'[{"data": {"a": 1}}, {"data": {"a": 2}}, {"data": ', 3, "bad JSON"),
        (b'[{"data": {"a": 1}}, 42]', 2, "object"),
        (b'"just a string"', 1, "array of tasks"),
        (b'[{"data": {"a": "nul \\u0000 here"}}]', 1, "NUL"),
    ],
)
def test_a_bad_json_item_is_named_by_its_position(content, row, problem):
    found_row, message = rejected_row("t.json", content)
    assert found_row == row and problem in message


def test_an_escaped_backslash_before_u0000_is_not_a_nul():
    (row,) = parse("t.jsonl", b'{"data": {"path": "C:\\\\u0000dir"}}\n')
    assert row.data == {"path": "C:\\u0000dir"}


@pytest.mark.parametrize(("name", "content"), [("t.json", b"[]"), ("t.json", b'{"tasks": []}')])
def test_empty_json_files_are_refused(name, content):
    with pytest.raises(ServiceError, match="no tasks"):
        parse(name, content)


def test_csv_nul_and_oversized_rows_are_refused_with_their_row():
    assert rejected_row("t.csv", b"title\nok\nnul\x00here\n")[0] == 2
    big = b"title\nok\n" + b"x" * (70 * 1024) + b"\n"
    row, message = rejected_row("t.csv", big)
    assert row == 2 and "larger than 64 KB" in message


def test_the_json_parser_reads_the_file_in_pieces_not_whole():
    items = b",".join(b'{"data": {"n": %d}}' % i for i in range(20_000))
    content = b"[" + items + b"]"
    reads: list[int] = []

    class Spy(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    rows = rows_from_upload(name="big.json", file=Spy(content), check=CHECK)
    first = next(rows)
    assert first.data == {"n": 0}
    assert all(size != -1 for size in reads), "read() without a size would load the whole file"
    assert sum(1 for _ in rows) == 19_999
    assert len(reads) > 3


def test_counting_reader_counts_bytes_for_lines_and_reads():
    reader = CountingReader(io.BytesIO(b"a\nbb\nccc\n"))
    assert list(reader) == [b"a\n", b"bb\n", b"ccc\n"] and reader.bytes_read == 9
    reader = CountingReader(io.BytesIO(b"abcdef"))
    reader.read(4)
    assert reader.bytes_read == 4


def test_the_api_takes_small_json_files_at_once(api, requester):
    pool = PoolFactory(requester=requester, labels=LABELS)
    content = io.BytesIO(b'[{"data": {"t": 1}}, {"data": {"t": 2}, "golden": "OK"}]')
    content.name = "tasks.json"
    response = api(requester).post(f"/api/v1/pools/{pool.pk}/tasks/", {"file": content}, format="multipart")
    assert response.status_code == 201 and response.json() == {"created": 2}


# A task as Label Studio's "JSON" export writes it (its own ids, annotations and predictions beside the data).
LABEL_STUDIO_EXPORT = [
    {
        "id": 101,
        "data": {"text": "cheap watches", "image": "https://img.example.com/1.jpg"},
        "annotations": [{"id": 1, "result": [{"type": "choices", "value": {"choices": ["Bad"]}}]}],
        "predictions": [{"model_version": "v1", "score": 0.8, "result": []}],
        "meta": {},
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "inner_id": 1,
        "total_annotations": 1,
        "cancelled_annotations": 0,
        "total_predictions": 1,
        "project": 3,
        "updated_by": None,
        "file_upload": None,
        "drafts": [],
    },
    {"id": 102, "data": {"text": "a blue bike"}, "annotations": [], "predictions": []},
]


def test_a_label_studio_task_export_is_read_as_its_data_and_ids():
    rows = parse("project-3.json", json.dumps(LABEL_STUDIO_EXPORT).encode())
    assert [(row.data, row.external_id, row.golden) for row in rows] == [
        ({"text": "cheap watches", "image": "https://img.example.com/1.jpg"}, "101", None),
        ({"text": "a blue bike"}, "102", None),
    ]


def test_a_label_studio_task_keeps_an_external_id_and_a_golden_answer_of_our_own():
    task = {"id": 5, "data": {"text": "x"}, "external_id": "mine", "golden": "OK", "annotations": []}
    (row,) = parse("tasks.json", json.dumps([task]).encode())
    assert (row.external_id, row.golden) == ("mine", "OK")


def test_a_field_neither_we_nor_label_studio_know_is_still_refused():
    bad = [{"id": 1, "data": {"text": "x"}, "annotations": [], "colour": "red"}]
    assert rejected_row("tasks.json", json.dumps(bad).encode()) == (
        1,
        "Row 1: unknown field(s): colour. Nothing was imported.",
    )
