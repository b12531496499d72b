from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.forms import SignupForm
from accounts.services import account_create, token_for, token_regenerate
from fairlabel.errors import error_body
from fairlabel.web import AuthedRequest, requester_required


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "accounts/welcome.html")
    if request.user.is_staff:
        return redirect("admin:index")
    return redirect("feed" if request.user.role == "worker" else "pool-list")


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None, initial={"role": request.GET.get("role", "worker")})
    if request.method == "POST" and form.is_valid():
        user = account_create(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password1"],
            role=form.cleaned_data["role"],
            email=form.cleaned_data.get("email") or "",
            validate=False,  # the form already ran the password validators
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}.")
        return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


@requester_required
def api_token(request: AuthedRequest) -> HttpResponse:
    return render(request, "accounts/token.html", {"token": token_for(user=request.user).key})


@require_POST
@login_required
def api_token_regenerate(request: AuthedRequest) -> HttpResponse:
    token_regenerate(user=request.user)
    messages.success(request, "A new token was made; the old one no longer works.")
    return redirect("api-token-page")


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """What django-axes answers once a username and address have failed too often (AXES_LOCKOUT_CALLABLE).

    The same sentence whether or not the password was right this time, so a lockout reveals nothing about it.
    """
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    minutes = max(1, -(-seconds // 60))
    message = (
        f"Too many failed log-ins for this account from your address. Try again in {minutes} minutes, "
        "or ask an admin to unlock it."
    )
    locked: HttpResponse
    if request.path_info.startswith("/api/"):
        locked = JsonResponse(error_body("locked_out", message, {"retry_after": seconds}), status=429)
    else:
        username = (credentials or {}).get("username") or ""
        form = AuthenticationForm(request, initial={"username": username})
        locked = render(request, "registration/login.html", {"form": form, "locked_out": message}, status=429)
    locked["Retry-After"] = str(seconds)
    return locked
