"""REST API v1 for a requester's pools: create, add tasks, open, close, read answers and results. Thin: parse,
call a use case or selector, render."""

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
from fairlabel.paging import parse_page
from fairlabel.permissions import IsRequester, request_user
from quality.selectors import (
    ITEM_COLUMNS,
    pool_answer_rows,
    pool_items,
    pool_result_rows,
    pool_results_coco,
    pool_results_label_studio,
)
from quality.types import TYPES, row_check
from requester.exports import parse_format, stream_coco, stream_json_array, stream_rows
from requester.serializers import PoolCreateSerializer, pool_json
from tasks import selectors, services
from tasks.importing import rows_from_json, rows_from_upload
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
        "aggregation_method": serializers.ChoiceField(choices=["ds", "mv", "wawa", "auto"]),
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


class PoolListView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"get": {400: ("invalid_page",)}}

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
    error_codes = {
        "post": {
            400: ("invalid_upload", "unsupported_file_type"),
            402: ("insufficient_funds",),
            409: ("pool_not_editable",),
            413: ("file_too_large",),
        }
    }

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
            rows = rows_from_upload(name=upload.name or "", file=upload.file, check=row_check(pool))
        elif isinstance(request.data, dict) and "tasks" in request.data:
            rows = rows_from_json(tasks=request.data["tasks"], check=row_check(pool))
        else:
            raise ServiceError(
                code="invalid_upload",
                message='Send JSON {"tasks": [...]} or a multipart form with a .csv, .jsonl or .json "file".',
            )
        created = pool_flows.tasks_add(pool=pool, rows=rows)
        return Response({"created": created}, status=status.HTTP_201_CREATED)


class PoolOpenView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"post": {400: ("no_tasks",), 402: ("insufficient_funds",), 409: ("invalid_status",)}}

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


_format_param = OpenApiParameter("format", str, enum=["json", "csv", "jsonl", "parquet"])
# One 200 per format, so clients (and the schema fuzz test) know CSV and JSONL downloads are not JSON.
_export_responses = {
    (200, "application/json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
    (200, "application/x-ndjson"): OpenApiTypes.STR,
    (200, "application/vnd.apache.parquet"): OpenApiTypes.BINARY,
}


class PoolAnswersView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"get": {400: ("invalid_format",)}}

    @extend_schema(parameters=[_format_param], responses=_export_responses)
    def get(self, request: Request, pool_id: str) -> Any:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        fmt = parse_format(request.query_params.get("format"))
        rows, columns = pool_answer_rows(pool=pool)
        return stream_rows(
            rows=rows,
            columns=columns,
            fmt=fmt,
            filename=f"pool-{pool.pk}-answers",
            answer_shape=TYPES[pool.task_type].export_shape,
        )


class PoolResultsView(APIView):
    permission_classes = [IsRequester]
    error_codes = {
        "get": {
            400: ("invalid_format", "invalid_method", "invalid_request"),
            409: ("method_not_stored",),
        }
    }

    @extend_schema(
        description=(
            "One row per regular task: task_id, external_id, answer (in the pool type's shape; single_choice "
            "also label), confidence, answers. multi_choice rows also carry label_confidence, each label's own "
            "probability of belonging ({label: p}); a box in a boxes answer carries its confidence. by=item "
            "(pairwise) gives one row per compared item instead: item, score, rank, comparisons."
        ),
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv", "jsonl", "parquet", "coco", "label-studio"],
                description="coco: a boxes pool's results as COCO JSON, boxes in pixels (tasks need data fields "
                '"width" and "height"). label-studio: Label Studio\'s task JSON, each task with its data and '
                "one annotation holding the result (confidence in meta).",
            ),
            OpenApiParameter(
                "method",
                str,
                enum=["ds", "mv", "wawa", "auto"],
                description=(
                    "Aggregation method; default: the pool's aggregation_method (stored results). auto: the method "
                    "whose calibrated confidence best predicts the golden items, each held out of its own fit."
                ),
            ),
        ],
        # JSON is an object ({"results": [...]}, or COCO's), or an array for label-studio.
        responses={**_export_responses, (200, "application/json"): OpenApiTypes.ANY},
    )
    def get(self, request: Request, pool_id: str) -> Any:
        pool = selectors.pool_for_requester(pool_id=pool_id, requester=request_user(request))
        asked = (request.query_params.get("format") or "").lower()
        if asked == "label-studio":
            return stream_json_array(
                items=pool_results_label_studio(pool=pool, method=request.query_params.get("method")),
                filename=f"pool-{pool.pk}-label-studio",
            )
        if asked == "coco":
            coco = pool_results_coco(pool=pool)
            return stream_coco(
                categories=coco.categories, images=coco.images, filename=f"pool-{pool.pk}-coco"
            )
        fmt = parse_format(request.query_params.get("format"))
        if request.query_params.get("by") == "item":
            return stream_rows(
                rows=iter(pool_items(pool=pool)),
                columns=list(ITEM_COLUMNS),
                fmt=fmt,
                filename=f"pool-{pool.pk}-items",
            )
        rows, columns = pool_result_rows(pool=pool, method=request.query_params.get("method"))
        return stream_rows(
            rows=rows,
            columns=columns,
            fmt=fmt,
            filename=f"pool-{pool.pk}-results",
            answer_shape=TYPES[pool.task_type].export_shape,
        )
