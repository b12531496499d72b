from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import token_for
from fairlabel.errors import ServiceError


class TokenView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=inline_serializer(
            name="TokenRequest",
            fields={"username": serializers.CharField(), "password": serializers.CharField()},
        ),
        responses=inline_serializer(name="TokenResponse", fields={"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        username, password = data.get("username"), data.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ServiceError(code="invalid_credentials", message="Send a username and a password.")
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            raise ServiceError(code="invalid_credentials", message="Wrong username or password.")
        return Response({"token": token_for(user=user).key})
