"""REST API v1 additions for fair work. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.money import parse_money
from fairlabel.numbers import parse_id
from fairlabel.permissions import IsRequester, IsWorker, request_user
from fairness import selectors, services
from fairness.export import export_filename, user_export_zip
from fairness.serializers import appeal_json, decision_json, feed_pool_json
from requester.serializers import pool_json
from tasks.selectors import pool_for_requester
from workflows.feed import feed_for_worker
from workflows.pools import pool_set_reward

_feed_item = inline_serializer(
    name="FeedPool",
    fields={
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "requester": serializers.CharField(),
        "reward": serializers.CharField(),
        "effective_hourly_pay": serializers.CharField(allow_null=True),
        "below_floor": serializers.BooleanField(),
        "requester_rating": serializers.FloatField(allow_null=True),
        "median_review_seconds": serializers.IntegerField(allow_null=True),
        "acceptance": serializers.CharField(),
        "content_warning": serializers.CharField(allow_null=True),
        "tasks_left": serializers.IntegerField(),
    },
)
_appeal = inline_serializer(
    name="Appeal",
    fields={
        "id": serializers.IntegerField(),
        "message": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["pending", "upheld", "denied"]),
        "created_at": serializers.DateTimeField(),
        "decided_at": serializers.DateTimeField(allow_null=True),
        "response": serializers.CharField(allow_null=True),
    },
)
_decision = inline_serializer(
    name="Decision",
    fields={
        "id": serializers.IntegerField(),
        "kind": serializers.ChoiceField(choices=["restriction", "rejection", "block"]),
        "pool_id": serializers.IntegerField(allow_null=True),
        "answer_id": serializers.IntegerField(allow_null=True),
        "reason": serializers.CharField(),
        "figures": serializers.DictField(),
        "by": serializers.ChoiceField(choices=["rule", "person"]),
        "created_at": serializers.DateTimeField(),
        "reversed_at": serializers.DateTimeField(allow_null=True),
        # A decision nobody appealed has "appeal": null.
        "appeal": type(_appeal)(allow_null=True),
    },
)


class IsWorkerOrRequester(BasePermission):
    message = "Only workers and requesters have data to export."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role in ("worker", "requester"))


class FeedView(APIView):
    """The pools this worker may work on now; a pool below the pay floor is absent."""

    permission_classes = [IsWorker]

    @extend_schema(
        responses=inline_serializer(name="Feed", fields={"results": serializers.ListField(child=_feed_item)})
    )
    def get(self, request: Request) -> Response:
        items = feed_for_worker(worker=request_user(request))
        results = [
            feed_pool_json(pool=item.pool, fairness=item.fairness, tasks_left=item.tasks_left)
            for item in items
            if item.fairness is not None
        ]
        return Response({"results": results})


class MyDecisionsView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        responses=inline_serializer(
            name="Decisions", fields={"results": serializers.ListField(child=_decision)}
        )
    )
    def get(self, request: Request) -> Response:
        decisions = selectors.decisions_for_worker(worker=request_user(request))
        return Response({"results": [decision_json(d) for d in decisions]})


class AppealCreateView(APIView):
    permission_classes = [IsWorker]
    error_codes = {
        "post": {
            400: ("message_required", "reason_too_long"),
            409: ("already_appealed",),
        }
    }

    @extend_schema(
        request=inline_serializer(name="AppealRequest", fields={"message": serializers.CharField()}),
        responses={201: _appeal},
    )
    def post(self, request: Request, decision_id: str) -> Response:
        message = request.data.get("message") if isinstance(request.data, dict) else None
        if not isinstance(message, str):
            raise ServiceError(code="message_required", message='Send {"message": "..."} with your appeal.')
        appeal = services.appeal_file(worker=request_user(request), decision_id=decision_id, message=message)
        return Response(appeal_json(appeal), status=status.HTTP_201_CREATED)


class AppealQueueView(APIView):
    """The appeals waiting for you. Who decides what (`fairness.services.appeal_may_decide`): an appeal against a
    rejection goes to the pool's requester, and staff may decide it too, as the platform's arbiter of a rejection
    the requester will not reconsider; appeals against restrictions and blocks go to staff only. Staff see
    restrictions and blocks first."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        user = request_user(request)
        if not (user.is_staff or user.is_requester):
            raise ServiceError(
                code="permission_denied", message="Workers do not decide appeals.", status_code=403
            )
        results = []
        for appeal in selectors.appeals_queue_for(user=user):
            record = selectors.worker_record(
                worker=appeal.decision.worker, requester=None if user.is_staff else user
            )
            results.append(
                appeal_json(appeal)
                | {
                    "decision": decision_json(appeal.decision) | {"appeal": None},
                    "worker": {
                        "pseudonym": record.pseudonym,
                        "answers": record.answers,
                        "answers_here": record.answers_here,
                        "rejected": record.rejected,
                        "golden_accuracy": record.golden_accuracy,
                        "appeals_upheld": record.appeals_upheld,
                        "appeals_denied": record.appeals_denied,
                    },
                }
            )
        return Response({"results": results})


class AppealDecideView(APIView):
    """Uphold (the decision is reversed, money included) or deny an appeal, with a written answer the worker
    reads. An appeal against a rejection: the pool's requester or staff; restrictions and blocks: staff only.
    Anyone else: 404."""

    error_codes = {"post": {400: ("response_required",), 409: ("already_decided",)}}

    @extend_schema(
        request=inline_serializer(
            name="AppealDecision",
            fields={"uphold": serializers.BooleanField(), "response": serializers.CharField()},
        ),
        responses=_appeal,
    )
    def post(self, request: Request, appeal_id: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        uphold, response = data.get("uphold"), data.get("response")
        if not isinstance(uphold, bool) or not isinstance(response, str):
            raise ServiceError(
                code="invalid_request", message='Send {"uphold": true|false, "response": "why"}.'
            )
        pk = parse_id(appeal_id)
        if pk is None:
            raise ServiceError(code="not_found", message="No such appeal in your queue.", status_code=404)
        appeal = services.appeal_decide(
            decider=request_user(request), appeal_id=pk, uphold=uphold, response=response
        )
        return Response(appeal_json(appeal))


class MyExportView(APIView):
    """Everything the platform holds about you, as a zip of CSV and JSON files."""

    permission_classes = [IsWorkerOrRequester]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request: Request) -> HttpResponse:
        user = request_user(request)
        response = HttpResponse(user_export_zip(user=user), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(user=user)}"'
        return response


class PoolRewardView(APIView):
    """Raise a pool's reward (e.g. to clear the pay floor); the extra cost is reserved at once."""

    permission_classes = [IsRequester]
    error_codes = {
        "post": {
            402: ("insufficient_funds",),
            409: ("reward_lowered", "invalid_status"),
        }
    }

    @extend_schema(
        request=inline_serializer(name="RewardRequest", fields={"reward": serializers.CharField()}),
        responses={200: dict},
    )
    def post(self, request: Request, pool_id: str) -> Response:
        pool = pool_for_requester(pool_id=pool_id, requester=request_user(request))
        raw = request.data.get("reward") if isinstance(request.data, dict) else None
        try:
            reward = parse_money(raw, field="reward")
        except ValueError as exc:
            raise ServiceError(
                code="invalid_request", message=str(exc), details={"fields": {"reward": [str(exc)]}}
            ) from None
        return Response(pool_json(pool_set_reward(pool=pool, reward=reward)))


class RequesterRatingView(APIView):
    permission_classes = [IsWorker]
    error_codes = {"put": {403: ("not_enough_answers",)}}

    @extend_schema(
        request=inline_serializer(
            name="RatingRequest",
            fields={
                "pay": serializers.IntegerField(min_value=1, max_value=5),
                "clarity": serializers.IntegerField(min_value=1, max_value=5),
                "fairness": serializers.IntegerField(min_value=1, max_value=5),
                "speed": serializers.IntegerField(min_value=1, max_value=5),
                "comment": serializers.CharField(required=False),
            },
        ),
        responses={200: dict},
    )
    def put(self, request: Request, requester_id: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        pk = parse_id(requester_id)
        if pk is None:
            raise ServiceError(code="not_found", message="No such requester.", status_code=404)
        rating = services.rating_save(
            worker=request_user(request),
            requester_id=pk,
            pay_score=data.get("pay"),  # type: ignore[arg-type]  # validated by the service
            clarity=data.get("clarity"),  # type: ignore[arg-type]
            fairness=data.get("fairness"),  # type: ignore[arg-type]
            speed=data.get("speed"),  # type: ignore[arg-type]
            comment=data.get("comment") or "",
        )
        return Response(
            {
                "requester_id": rating.requester_id,
                "pay": rating.pay,
                "clarity": rating.clarity,
                "fairness": rating.fairness,
                "speed": rating.speed,
                "comment": rating.comment,
            }
        )


class CarePreferencesView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        care = selectors.care_status(worker=request_user(request))
        return Response(
            {"categories": care.categories, "daily_cap": care.daily_cap, "warned_today": care.warned_today}
        )

    @extend_schema(
        request=inline_serializer(
            name="CareRequest",
            fields={
                "categories": serializers.ListField(child=serializers.CharField()),
                "daily_cap": serializers.IntegerField(min_value=0, max_value=1000),
            },
        ),
        responses={200: dict},
    )
    def put(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        categories = data.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise ServiceError(code="invalid_request", message="categories is a list of category names.")
        services.care_preferences_save(
            worker=request_user(request), categories=categories, daily_cap=data.get("daily_cap", 50)
        )
        return self.get(request)
