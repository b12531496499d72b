"""Answers and results downloads: right rows, spreadsheet-safe CSV, streamed in chunks from one cursor."""

from __future__ import annotations

import csv
import io
import json

import pytest

from quality.selectors import results_for_pool
from tasks.models import Task
from tests.factories import PoolFactory, TaskFactory, WorkerFactory, open_pool, record_answer
from workflows import assignments as assignments_flow

pytestmark = pytest.mark.django_db

SINGLE_CHOICE_RESULT_COLUMNS = [
    "task_id",
    "external_id",
    "label",
    "answer",
    "confidence",
    "calibration",
    "answers",
]


def answer_all(pool, worker, answer) -> None:
    """The worker answers every task the pool still serves them."""
    while (assignment := assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)) is not None:
        assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer=answer)


def body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_results_merge_votes_per_task_with_ties_in_label_order():
    # Majority vote: the default Dawid-Skene weighs workers, so a 1-1 tie need not stay one.
    pool = PoolFactory(labels=["Bad", "OK", "Spam"], overlap=3, aggregation_method="mv")
    workers = [WorkerFactory() for _ in range(3)]
    tie, clear, silent = (TaskFactory(pool=pool) for _ in range(3))
    golden = TaskFactory(pool=pool, golden_label="OK")
    for worker, label in zip(workers, ["OK", "Bad"], strict=False):
        record_answer(tie, worker, label)
    for worker in workers:
        record_answer(clear, worker, "Spam")
        record_answer(golden, worker, "OK", golden=True)
    rows = {r["task_id"]: r for r in results_for_pool(pool=pool)}
    assert set(rows) == {tie.pk, clear.pk, silent.pk}  # golden items are not results
    assert rows[tie.pk] | {} == {
        "task_id": tie.pk,
        "external_id": None,
        "label": "Bad",  # 1-1 tie: the pool's first label wins
        "confidence": 0.5,
        "calibration": "uncalibrated",  # one golden task: too few to fit a calibration
        "answers": 2,
    }
    assert rows[clear.pk]["label"] == "Spam" and rows[clear.pk]["confidence"] == 1.0
    assert rows[silent.pk]["label"] is None and rows[silent.pk]["answers"] == 0


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(api, start):
    pool = PoolFactory(labels=["OK", "Bad"])
    task = TaskFactory(pool=pool, external_id=f"{start}cmd|' /C calc'!A0")
    record_answer(task, WorkerFactory(), "OK")
    client = api(pool.requester)
    for kind in ("results", "answers"):
        text = body(client.get(f"/api/v1/pools/{pool.pk}/{kind}/?format=csv"))
        cells = next(r for r in csv.reader(io.StringIO(text)) if r and r[0] == str(task.pk))
        assert cells[1] == f"'{start}cmd|' /C calc'!A0"


def test_json_and_jsonl_carry_the_contract_fields(api):
    pool = PoolFactory(labels=["OK", "Bad"])
    task = TaskFactory(pool=pool, external_id="x-1")
    worker = WorkerFactory()
    record_answer(task, worker, "Bad")
    client = api(pool.requester)
    answers = json.loads(body(client.get(f"/api/v1/pools/{pool.pk}/answers/?format=json")))["results"]
    assert list(answers[0]) == [
        "task_id",
        "external_id",
        "worker",
        "label",
        "answer",
        "submitted_at",
        "duration_ms",
    ]
    assert answers[0]["external_id"] == "x-1" and answers[0]["worker"].startswith("w-")
    assert str(worker.username) not in json.dumps(answers)
    lines = body(client.get(f"/api/v1/pools/{pool.pk}/results/?format=jsonl")).splitlines()
    assert json.loads(lines[0]) == {
        "task_id": task.pk,
        "external_id": "x-1",
        "label": "Bad",
        "answer": "Bad",
        "confidence": 1.0,
        "calibration": "uncalibrated",
        "answers": 1,
    }


def test_large_exports_stream_in_chunks(api):
    pool = PoolFactory(labels=["OK", "Bad"])
    Task.objects.bulk_create(
        [
            Task(pool=pool, data={"n": i}, external_id=f"ext-{i:05d}", max_answers=1, remaining=1)
            for i in range(15000)
        ]
    )
    response = api(pool.requester).get(f"/api/v1/pools/{pool.pk}/results/?format=csv")
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 2, "rows should leave in chunks, not as one body"
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert len(rows) == 15001 and rows[0] == SINGLE_CHOICE_RESULT_COLUMNS
    assert rows[-1][1] == "ext-14999"
    jsonl = list(api(pool.requester).get(f"/api/v1/pools/{pool.pk}/results/?format=jsonl").streaming_content)
    assert len(jsonl) > 2 and sum(c.count(b"\n") for c in jsonl) == 15000


def test_someone_elses_pool_is_not_found(api, requester):
    pool = PoolFactory()
    assert api(requester).get(f"/api/v1/pools/{pool.pk}/results/?format=csv").status_code == 404


# ------------------------------------------------------------------------------------------------- Parquet


def _parquet(client, url: str, tmp_path, name: str):
    import pyarrow.parquet as pq

    response = client.get(url)
    assert response.status_code == 200, response.content[:300] if not response.streaming else ""
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert name in response["Content-Disposition"]
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return path, pq.read_schema(path)


def test_parquet_results_and_answers_have_typed_columns_pandas_and_datasets_read(api, tmp_path):
    import datasets
    import pandas
    import pyarrow as pa

    pool = open_pool(tasks=3, overlap=2, labels=("OK", "Spam"))
    for worker in WorkerFactory.create_batch(2):
        answer_all(pool, worker, "Spam")
    client = api(pool.requester)

    path, schema = _parquet(
        client,
        f"/api/v1/pools/{pool.pk}/results/?format=parquet",
        tmp_path,
        f"pool-{pool.pk}-results.parquet",
    )
    assert schema.field("task_id").type == pa.int64()
    assert schema.field("confidence").type == pa.float64()
    assert schema.field("answers").type == pa.int64()
    frame = pandas.read_parquet(path)
    assert list(frame.columns) == SINGLE_CHOICE_RESULT_COLUMNS
    assert set(frame["answer"]) == {"Spam"} and set(frame["answers"]) == {2}
    loaded = datasets.Dataset.from_parquet(str(path))
    assert loaded.num_rows == 3 and loaded.features["confidence"].dtype == "float64"

    path, schema = _parquet(
        client,
        f"/api/v1/pools/{pool.pk}/answers/?format=parquet",
        tmp_path,
        f"pool-{pool.pk}-answers.parquet",
    )
    assert pa.types.is_timestamp(schema.field("submitted_at").type)
    answers = pandas.read_parquet(path)
    assert len(answers) == 6 and answers["submitted_at"].dt.tz is not None
    assert answers["duration_ms"].dtype == "int64"


def test_parquet_multi_label_answers_are_lists_of_strings(api, tmp_path):
    import pandas
    import pyarrow as pa

    pool = open_pool(tasks=2, overlap=1, labels=("Adult", "Counterfeit"), task_type="multi_choice")
    answer_all(pool, WorkerFactory(), ["Adult", "Counterfeit"])
    url = f"/api/v1/pools/{pool.pk}/results/?format=parquet"
    path, schema = _parquet(api(pool.requester), url, tmp_path, f"pool-{pool.pk}-results.parquet")
    assert schema.field("answer").type == pa.list_(pa.string())
    assert schema.field("label_confidence").type == pa.map_(pa.string(), pa.float64())
    frame = pandas.read_parquet(path)
    assert [sorted(answer) for answer in frame["answer"]] == [["Adult", "Counterfeit"]] * 2


def test_the_pool_page_offers_parquet_downloads(client, tmp_path):
    pool = open_pool(tasks=2)
    client.force_login(pool.requester)
    page = client.get(f"/pools/{pool.pk}/").content.decode()
    assert f"/pools/{pool.pk}/download/results/?format=parquet" in page
    assert f"/pools/{pool.pk}/download/label-studio/" in page
    tasks = json.loads(body(client.get(f"/pools/{pool.pk}/download/label-studio/")))
    assert len(tasks) == 2 and all(task["annotations"] == [] for task in tasks)
    _, schema = _parquet(
        client,
        f"/pools/{pool.pk}/download/answers/?format=parquet",
        tmp_path,
        f"pool-{pool.pk}-answers.parquet",
    )
    assert schema.names == [
        "task_id",
        "external_id",
        "worker",
        "label",
        "answer",
        "submitted_at",
        "duration_ms",
    ]


# ------------------------------------------------------------------------------------ Label Studio task JSON


def test_label_studio_export_carries_data_and_one_annotation_and_comes_back_in(api):
    pool = open_pool(tasks=3, overlap=1, labels=("OK", "Spam"), task_data={"text": "cheap watches"})
    worker = WorkerFactory()
    for _ in range(2):  # one task stays without a result
        assignment = assignments_flow.assignment_next(worker=worker, pool_id=pool.pk)
        assignments_flow.assignment_submit(worker=worker, assignment_id=assignment.pk, answer="Spam")
    client = api(pool.requester)
    response = client.get(f"/api/v1/pools/{pool.pk}/results/?format=label-studio")
    assert response.status_code == 200
    assert 'filename="pool-' in response["Content-Disposition"]
    tasks = json.loads(body(response))
    assert len(tasks) == 3 and all(task["data"] == {"text": "cheap watches"} for task in tasks)
    annotated = [task for task in tasks if task["annotations"]]
    assert len(annotated) == 2
    (result,) = annotated[0]["annotations"][0]["result"]
    assert result["type"] == "choices" and result["value"] == {"choices": ["Spam"]}
    assert annotated[0]["meta"]["answers"] == 1 and 0 <= annotated[0]["meta"]["confidence"] <= 1

    # The same file starts a new pool: its tasks, with the old ids as external ids.
    again = PoolFactory(requester=pool.requester, labels=["OK", "Spam"])
    upload = io.BytesIO(json.dumps(tasks).encode())
    upload.name = "label-studio.json"
    created = client.post(f"/api/v1/pools/{again.pk}/tasks/", {"file": upload}, format="multipart")
    assert created.status_code == 201, created.content
    external_ids = {str(e) for e in Task.objects.filter(pool=again).values_list("external_id", flat=True)}
    assert external_ids == {str(task["id"]) for task in tasks}
