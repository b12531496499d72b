"""REST API v1 for a worker's loop (next, submit, skip), the caller's own account, and a ping. Thin: parse,
call a use case, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.money import money_str
from fairlabel.numbers import parse_id
from fairlabel.permissions import IsWorker, request_user
from payouts.selectors import balance_for_user
from tasks import services
from worker.serializers import assignment_json
from workflows import assignments

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
    error_codes = {
        "post": {
            400: ("invalid_answer", "invalid_label"),
            409: ("already_submitted",),
            410: ("expired",),
        }
    }

    @extend_schema(
        request=inline_serializer(
            name="SubmitRequest",
            fields={
                "answer": serializers.JSONField(
                    required=False,
                    help_text='The answer in the pool\'s task_type shape: single_choice "OK"; multi_choice a list '
                    'of distinct labels; text a string; boxes a list of {"label", "x", "y", "w", "h"} '
                    'as fractions of the image; pairwise "left", "right" or (where allowed) "tie".',
                ),
                "label": serializers.CharField(
                    required=False, help_text="single_choice only: the label (the form before task types)."
                ),
            },
        ),
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
        body = request.data if isinstance(request.data, dict) else {}
        if "answer" in body:
            raw, judge = body["answer"], assignments.ANSWER_JUDGE
        elif isinstance(body.get("label"), str):
            raw, judge = body["label"], assignments.LABEL_JUDGE
        elif "label" in body:
            raise ServiceError(
                code="invalid_label", message="label must be one of the pool's labels (a string)."
            )
        else:
            raise ServiceError(
                code="invalid_answer",
                message='Send {"answer": ...} in the shape of the pool\'s task type.',
            )
        answer = assignments.assignment_submit(
            worker=request_user(request), assignment_id=_assignment_id(assignment_id), answer=raw, judge=judge
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
    error_codes = {"post": {409: ("already_skipped",)}}

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
