"""REST API v1 for withdrawals and answer review. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.money import money_str, parse_cents
from fairlabel.numbers import parse_id
from fairlabel.paging import parse_page
from fairlabel.permissions import IsRequester, IsWorker, request_user
from fairlabel.timestamps import json_time
from payouts import selectors, services
from payouts.models import Withdrawal
from tasks.selectors import pool_for_requester
from workflows.reviews import answer_reject

PAGE_SIZE = 50


def withdrawal_json(withdrawal: Withdrawal) -> dict[str, Any]:
    return {
        "id": withdrawal.pk,
        "amount": money_str(withdrawal.amount),
        "status": withdrawal.status,
        "created_at": json_time(withdrawal.created_at),
    }


def withdrawal_detail_json(withdrawal: Withdrawal) -> dict[str, Any]:
    """The list adds what a worker needs to follow a payout: why it failed (or is being retried), and when."""
    return withdrawal_json(withdrawal) | {
        "failure_reason": withdrawal.failure_reason,
        "finished_at": json_time(withdrawal.finished_at),
    }


_withdrawal = inline_serializer(
    name="Withdrawal",
    fields={
        "id": serializers.IntegerField(),
        "amount": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["requested", "processing", "paid", "failed"]),
        "created_at": serializers.DateTimeField(),
    },
)
_withdrawal_detail = inline_serializer(
    name="WithdrawalDetail",
    fields={
        "id": serializers.IntegerField(),
        "amount": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["requested", "processing", "paid", "failed"]),
        "created_at": serializers.DateTimeField(),
        "failure_reason": serializers.CharField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


def parse_withdrawal_amount(value: object) -> Decimal:
    try:
        return parse_cents(value, field="amount")
    except ValueError as exc:
        raise ServiceError(code="invalid_amount", message=str(exc)) from None


class WithdrawalListView(APIView):
    permission_classes = [IsWorker]
    error_codes = {
        "get": {400: ("invalid_page",)},
        "post": {400: ("invalid_amount",), 402: ("insufficient_funds",), 409: ("idempotency_key_reused",)},
    }

    @extend_schema(
        request=inline_serializer(name="WithdrawalRequest", fields={"amount": serializers.CharField()}),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={201: _withdrawal},
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        amount = parse_withdrawal_amount(data.get("amount"))
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 128:
            raise ServiceError(code="invalid_request", message="Idempotency-Key is at most 128 characters.")
        withdrawal = services.withdrawal_create(worker=request_user(request), amount=amount, request_key=key)
        return Response(withdrawal_json(withdrawal), status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("page", int)],
        responses=inline_serializer(
            name="WithdrawalPage",
            fields={
                "results": serializers.ListField(child=_withdrawal_detail),
                "next": serializers.URLField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        page = parse_page(request.query_params.get("page"), page_size=PAGE_SIZE)
        rows = selectors.withdrawals_for_worker(
            worker=request_user(request), limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
        next_url = (
            request.build_absolute_uri(f"{request.path}?page={page + 1}") if len(rows) > PAGE_SIZE else None
        )
        return Response({"results": [withdrawal_detail_json(w) for w in rows[:PAGE_SIZE]], "next": next_url})


def _answer_id(raw: str) -> int:
    pk = parse_id(raw)
    if pk is None:
        raise ServiceError(code="not_found", message="No such answer in your pools.", status_code=404)
    return pk


_reviewed = inline_serializer(
    name="ReviewedAnswer",
    fields={
        "id": serializers.IntegerField(),
        "status": serializers.CharField(),
        "reject_reason": serializers.CharField(),
    },
)


def _reviewed_json(answer: Any) -> dict[str, Any]:
    return {"id": answer.pk, "status": answer.status, "reject_reason": answer.reject_reason}


class AnswerAcceptView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"post": {409: ("already_reviewed", "review_window_closed")}}

    @extend_schema(request=None, responses=_reviewed)
    def post(self, request: Request, answer_id: str) -> Response:
        answer = services.answer_accept(requester=request_user(request), answer_id=_answer_id(answer_id))
        return Response(_reviewed_json(answer))


class AnswerRejectView(APIView):
    permission_classes = [IsRequester]
    error_codes = {
        "post": {
            400: ("reason_required", "reason_too_long"),
            409: ("already_reviewed", "review_window_closed"),
        }
    }

    @extend_schema(
        request=inline_serializer(name="RejectRequest", fields={"reason": serializers.CharField()}),
        responses=_reviewed,
    )
    def post(self, request: Request, answer_id: str) -> Response:
        reason = request.data.get("reason") if isinstance(request.data, dict) else None
        if not isinstance(reason, str):
            raise ServiceError(
                code="reason_required", message="Tell the worker why: a rejection needs a reason."
            )
        answer = answer_reject(
            requester=request_user(request), answer_id=_answer_id(answer_id), reason=reason
        )
        return Response(_reviewed_json(answer))


class PoolAcceptPendingView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=None,
        responses=inline_serializer(name="AcceptedCount", fields={"accepted": serializers.IntegerField()}),
    )
    def post(self, request: Request, pool_id: str) -> Response:
        pool = pool_for_requester(pool_id=pool_id, requester=request_user(request))
        return Response(
            {"accepted": services.answers_accept_bulk(requester=request_user(request), pool=pool)}
        )
