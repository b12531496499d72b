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


class CredentialsSerializer(serializers.Serializer):
    # DRF's CharField refuses NUL and unpaired surrogates, which would otherwise reach the user lookup and fail
    # in the database with a 500 (a multipart body bypasses the JSON parser's own check).
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    error_codes = {"post": {400: ("invalid_credentials",)}}

    @extend_schema(
        request=CredentialsSerializer,
        responses=inline_serializer(name="TokenResponse", fields={"token": serializers.CharField()}),
    )
    def post(self, request: Request) -> Response:
        form = CredentialsSerializer(data=request.data if isinstance(request.data, dict) else {})
        if not form.is_valid():
            raise ServiceError(code="invalid_credentials", message="Send a username and a password.")
        username, password = form.validated_data["username"], form.validated_data["password"]
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            raise ServiceError(code="invalid_credentials", message="Wrong username or password.")
        return Response({"token": token_for(user=user).key})
