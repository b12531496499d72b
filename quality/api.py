"""`POST /api/v1/aggregate/`: the pools' aggregation for a file of answers from anywhere. Thin: read the
uploaded files, call quality.answer_files, render."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.permissions import IsRequester
from quality.aggregation import DEFAULT_METHOD, METHODS
from quality.answer_files import AnswerFileError, answer_file_aggregate


def _text(upload: Any, *, field: str) -> io.TextIOWrapper:
    if upload.size is not None and upload.size > settings.AGGREGATE_MAX_BYTES:
        raise ServiceError(
            code="file_too_large",
            message=f"{field} is larger than {settings.AGGREGATE_MAX_BYTES // (1024 * 1024)} MB; "
            "`manage.py aggregate` takes files of any size.",
            status_code=413,
        )
    return io.TextIOWrapper(upload.file, encoding="utf-8-sig", newline="")


class AggregateView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"post": {400: ("invalid_answers_file",), 413: ("file_too_large",)}}

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                name="AggregateRequest",
                fields={
                    "answers": serializers.FileField(help_text="CSV with the header task,worker,label"),
                    "gold": serializers.FileField(required=False, help_text="CSV with the header task,label"),
                    "method": serializers.ChoiceField(choices=list(METHODS), default=DEFAULT_METHOD),
                },
            )
        },
        responses=inline_serializer(
            name="AggregateResults",
            fields={
                "results": serializers.ListField(child=serializers.DictField()),
                "calibration": serializers.DictField(),
            },
        ),
        description="One label per task with its confidence, as pools aggregate: calibrated on the golden "
        "tasks (each held out of the fit that scores it) where 30 or more were answered.",
    )
    def post(self, request: Request) -> Response:
        answers = request.FILES.get("answers")
        if answers is None:
            raise ServiceError(
                code="invalid_request",
                message='Send the answers as a multipart file "answers" (CSV: task,worker,label).',
            )
        method = (request.data.get("method") if isinstance(request.data, dict) else None) or DEFAULT_METHOD
        if method not in METHODS:
            raise ServiceError(code="invalid_request", message=f"method must be one of {', '.join(METHODS)}.")
        gold = request.FILES.get("gold")
        try:
            results = answer_file_aggregate(
                answers=_text(answers, field="answers"),
                answers_name=answers.name or "answers",
                gold=_text(gold, field="gold") if gold is not None else None,
                gold_name=(gold.name or "gold") if gold is not None else "gold",
                method=method,
            )
        except AnswerFileError as exc:
            raise ServiceError(code="invalid_answers_file", message=str(exc)) from None
        calibration = results.calibration
        return Response(
            {
                "results": [
                    {"task": task, "label": label, "confidence": round(confidence, 6)}
                    for task, label, confidence in zip(
                        results.tasks, results.labels, results.confidence, strict=True
                    )
                ],
                "calibration": {
                    "kind": calibration.kind,
                    "golden_tasks": calibration.items,
                    "ece_before": calibration.ece_before,
                    "ece_after": calibration.ece_after,
                },
            }
        )
