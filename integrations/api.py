"""REST API for import jobs and webhooks. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fairlabel.errors import ServiceError
from fairlabel.permissions import IsRequester, request_user
from integrations import selectors, services
from integrations.serializers import delivery_json, import_job_json, webhook_json


class ImportJobView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, job_id: str) -> Response:
        job = selectors.import_job_for_requester(job_id=job_id, requester=request_user(request))
        return Response(import_job_json(job, build_uri=request.build_absolute_uri))


_webhook_request = inline_serializer(
    name="WebhookCreate",
    fields={
        "url": serializers.URLField(),
        "events": serializers.ListField(child=serializers.CharField()),
        "progress_step": serializers.IntegerField(required=False),
    },
)


class WebhookListView(APIView):
    permission_classes = [IsRequester]
    error_codes = {"post": {400: ("invalid_webhook_url",), 409: ("too_many_webhooks",)}}

    @extend_schema(operation_id="v1_webhooks_list", responses={200: dict})
    def get(self, request: Request) -> Response:
        webhooks = selectors.webhooks_for_requester(requester=request_user(request))
        return Response({"results": [webhook_json(w) for w in webhooks]})

    @extend_schema(request=_webhook_request, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        url, events, step = data.get("url"), data.get("events"), data.get("progress_step", 10)
        if not isinstance(url, str) or not isinstance(events, list):
            raise ServiceError(
                code="invalid_request",
                message='Send {"url": "https://…", "events": ["pool.completed", …], "progress_step": 10}.',
            )
        webhook = services.webhook_create(
            requester=request_user(request), url=url, events=[str(e) for e in events], progress_step=step
        )
        # The secret is shown in full once here and on the webhooks page; it signs every delivery.
        return Response(webhook_json(webhook, with_secret=True), status=status.HTTP_201_CREATED)


class WebhookDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, webhook_id: str) -> Response:
        webhook = selectors.webhook_for_requester(webhook_id=webhook_id, requester=request_user(request))
        deliveries = selectors.deliveries_for_webhook(webhook=webhook)
        return Response({**webhook_json(webhook), "deliveries": [delivery_json(d) for d in deliveries]})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, webhook_id: str) -> Response:
        webhook = selectors.webhook_for_requester(webhook_id=webhook_id, requester=request_user(request))
        services.webhook_delete(webhook=webhook)
        return Response(status=status.HTTP_204_NO_CONTENT)
