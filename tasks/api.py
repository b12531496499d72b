"""REST API v1 for pools, tasks and assignments (contract in issue #2). Thin: parse, call a service, render."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import parse_id
from fairlabel.paging import parse_page
from fairlabel.permissions import IsRequester, IsWorker, request_user
from payouts.selectors import balance_for_user
from quality.selectors import results_for_pool
from tasks import selectors, services
from tasks.exports import parse_format, stream_rows
from tasks.importing import rows_from_json, rows_from_upload
from tasks.serializers import PoolCreateSerializer, assignment_json, pool_json
from workflows import assignments
from workflows import pools as pool_flows

PAGE_SIZE = 50

_pool_response = inline_serializer(
    name="Pool",
    fields={
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "instructions": serializers.CharField(),
        "labels": serializers.ListField(child=serializers.CharField()),
        "reward": serializers.CharField(),
        "overlap": serializers.IntegerField(),
        "priority": serializers.IntegerField(),
        "golden_rate": serializers.FloatField(),
        "assignment_ttl": serializers.IntegerField(),
        # "paused" came with the requester dashboard, after contract v1 listed the other four.
        "status": serializers.ChoiceField(choices=["draft", "open", "paused", "closed", "completed"]),
        "created_at": serializers.DateTimeField(),
        "progress": serializers.DictField(child=serializers.IntegerField()),
        "budget": serializers.DictField(child=serializers.CharField()),
        "min_skill": serializers.FloatField(),
        "min_golden": serializers.IntegerField(),
        "min_seconds": serializers.FloatField(allow_null=True),
        "aggregation_method": serializers.ChoiceField(choices=["ds", "mv", "wawa"]),
        "target_confidence": serializers.FloatField(allow_null=True),
        "min_overlap": serializers.IntegerField(allow_null=True),
        "acceptance": serializers.ChoiceField(choices=["instant", "review"]),
        "review_hours": serializers.IntegerField(),
        "content_warning": serializers.CharField(allow_null=True),
        "allow_html": serializers.BooleanField(),
        "effective_hourly_pay": serializers.CharField(allow_null=True),
        "below_floor": serializers.BooleanField(),
        "floor_reward": serializers.CharField(allow_null=True),
    },
)
_balance = inline_serializer(
    name="Balance", fields={"available": serializers.CharField(), "reserved": serializers.CharField()}
)


def _balance_json(user: Any) -> dict[str, str]:
    balance = balance_for_user(user=user)
    return {"available": money_str(balance.available), "reserved": money_str(balance.reserved)}


class MeView(APIView):
    @extend_schema(
        responses=inline_serializer(
            name="Me",
            fields={
                "username": serializers.CharField(),
                "role": serializers.CharField(),
                "balance": _balance,
            },
        )
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        return Response({"username": user.username, "role": user.role, "balance": _balance_json(user)})


class PoolListView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(request=PoolCreateSerializer, responses={201: _pool_response})
    def post(self, request: Request) -> Response:
        serializer = PoolCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pool = services.pool_create(
            requester=request_user(request), settings=services.PoolSettings(**serializer.validated_data)
        )
        return Response(pool_json(pool), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="v1_pools_list",
        parameters=[OpenApiParameter("page", int)],
        responses=inline_serializer(
            name="PoolPage",
            fields={
                "results": serializers.ListField(child=_pool_response),
                "next": serializers.URLField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        page = parse_page(request.query_params.get("page"), page_size=PAGE_SIZE)
        start = (page - 1) * PAGE_SIZE
        pools = list(
            selectors.pools_for_requester(requester=request_user(request))[start : start + PAGE_SIZE + 1]
        )
        next_url = None
        if len(pools) > PAGE_SIZE:
            next_url = request.build_absolute_uri(f"{request.path}?page={page + 1}")
        return Response({"results": [pool_json(p) for p in pools[:PAGE_SIZE]], "next": next_url})


class PoolDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses=_pool_response)
    def get(self, request: Request, pool_id: str) -> Response:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        return Response(pool_json(pool))


class PoolTasksView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request={
            "application/json": inline_serializer(
                name="TaskUpload", fields={"tasks": serializers.ListField(child=serializers.DictField())}
            ),
            "multipart/form-data": inline_serializer(
                name="TaskFile", fields={"file": serializers.FileField()}
            ),
        },
        responses={
            201: inline_serializer(name="Created", fields={"created": serializers.IntegerField()}),
            202: inline_serializer(name="ImportQueued", fields={"job": serializers.DictField()}),
        },
        description=(
            "Small uploads are imported at once (201). A file larger than IMPORT_BACKGROUND_BYTES (5 MB by "
            "default) is imported by a background job, all or nothing: 202 with the job's URL to poll."
        ),
    )
    def post(self, request: Request, pool_id: str) -> Response:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        upload = request.FILES.get("file") if request.content_type.startswith("multipart/") else None
        if upload is not None:
            if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
                raise ServiceError(
                    code="file_too_large",
                    message=f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB.",
                    status_code=413,
                )
            if upload.size is not None and upload.size > settings.IMPORT_BACKGROUND_BYTES:
                from integrations.serializers import import_job_json
                from integrations.services import import_job_create

                job = import_job_create(pool=pool, requester=request_user(request), upload=upload)
                return Response(
                    {"job": import_job_json(job, build_uri=request.build_absolute_uri)},
                    status=status.HTTP_202_ACCEPTED,
                )
            rows = rows_from_upload(name=upload.name or "", file=upload.file, labels=pool.labels)
        elif isinstance(request.data, dict) and "tasks" in request.data:
            rows = rows_from_json(tasks=request.data["tasks"], labels=pool.labels)
        else:
            raise ServiceError(
                code="invalid_upload",
                message='Send JSON {"tasks": [...]} or a multipart form with a .csv, .jsonl or .json "file".',
            )
        created = pool_flows.tasks_add(pool=pool, rows=rows)
        return Response({"created": created}, status=status.HTTP_201_CREATED)


class PoolOpenView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(request=None, responses=_pool_response)
    def post(self, request: Request, pool_id: str) -> Response:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        return Response(pool_json(pool_flows.pool_open(pool=pool)))


class PoolCloseView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(request=None, responses=_pool_response)
    def post(self, request: Request, pool_id: str) -> Response:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        return Response(pool_json(pool_flows.pool_close(pool=pool)))


_format_param = OpenApiParameter("format", str, enum=["json", "csv", "jsonl"])
# One 200 per format, so clients (and the schema fuzz test) know CSV and JSONL downloads are not JSON.
_export_responses = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, "application/x-ndjson"): OpenApiTypes.STR,
}


class PoolAnswersView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(parameters=[_format_param], responses=_export_responses)
    def get(self, request: Request, pool_id: str) -> Any:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        fmt = parse_format(request.query_params.get("format"))
        return stream_rows(
            rows=selectors.answers_rows(pool=pool),
            columns=selectors.ANSWER_COLUMNS,
            fmt=fmt,
            filename=f"pool-{pool.pk}-answers",
        )


class PoolResultsView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        parameters=[
            _format_param,
            OpenApiParameter(
                "method",
                str,
                enum=["ds", "mv", "wawa"],
                description="Aggregation method; default: the pool's aggregation_method (stored results).",
            ),
        ],
        responses=_export_responses,
    )
    def get(self, request: Request, pool_id: str) -> Any:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        fmt = parse_format(request.query_params.get("format"))
        return stream_rows(
            rows=results_for_pool(pool=pool, method=request.query_params.get("method")),
            columns=selectors.RESULT_COLUMNS,
            fmt=fmt,
            filename=f"pool-{pool.pk}-results",
        )


class AssignmentNextView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=inline_serializer(
            name="NextRequest", fields={"pool": serializers.IntegerField(required=False)}
        ),
        responses={200: dict, 204: None},
    )
    def post(self, request: Request) -> Response:
        pool_id = request.data.get("pool") if isinstance(request.data, dict) else None
        if pool_id is not None and (isinstance(pool_id, bool) or not isinstance(pool_id, int)):
            raise ServiceError(code="invalid_request", message="pool must be a pool id (a whole number).")
        assignment = assignments.assignment_next(worker=request_user(request), pool_id=pool_id)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_json(assignment))


def _assignment_id(raw: str) -> int:
    pk = parse_id(raw)
    if pk is None:
        raise ServiceError(code="not_found", message="No such assignment of yours.", status_code=404)
    return pk


class AssignmentSubmitView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=inline_serializer(name="SubmitRequest", fields={"label": serializers.CharField()}),
        responses=inline_serializer(
            name="SubmitResponse",
            fields={
                "status": serializers.CharField(),
                "reward": serializers.CharField(),
                "balance": _balance,
            },
        ),
    )
    def post(self, request: Request, assignment_id: str) -> Response:
        label = request.data.get("label") if isinstance(request.data, dict) else None
        if not isinstance(label, str):
            raise ServiceError(
                code="invalid_label", message="label must be one of the pool's labels (a string)."
            )
        answer = assignments.assignment_submit(
            worker=request_user(request), assignment_id=_assignment_id(assignment_id), label=label
        )
        return Response(
            {
                "status": answer.status,
                "reward": money_str(answer.reward),
                "balance": _balance_json(request_user(request)),
            }
        )


class AssignmentSkipView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, assignment_id: str) -> Response:
        services.assignment_skip(worker=request_user(request), assignment_id=_assignment_id(assignment_id))
        return Response({"status": "skipped"})


class PingView(APIView):
    """A trivial authenticated read (the token check's one indexed SELECT).

    The benchmarks measure it next to the assignment feed on the same server, so the feed's cost can be read
    against the framework's own floor rather than against an absolute figure that depends on the machine.
    """

    @extend_schema(
        responses=inline_serializer(
            name="Ping", fields={"ok": serializers.BooleanField(), "user": serializers.CharField()}
        )
    )
    def get(self, request: Request) -> Response:
        return Response({"ok": True, "user": request_user(request).username})
