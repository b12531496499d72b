"""Sessions and accounts: production settings, CSRF on every form, log-in lockout, password rules."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.services import account_create
from tasks.models import Pool
from tests.factories import PASSWORD, RequesterFactory, WorkerFactory
from tests.security.conftest import production_env, production_settings, run_manage
from tests.security.matrix import is_api
from tests.security.test_permissions import MATRIX, all_routes

# ------------------------------------------------------------------------------------ production settings


def test_the_server_refuses_to_start_without_a_secret_key():
    result = run_manage("check", env=production_env(SECRET_KEY=None))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_an_empty_secret_key_is_no_key():
    result = run_manage("check", env=production_env(SECRET_KEY=""))
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_cookies_are_secure_and_http_only():
    values = production_settings(
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "AXES_ENABLED",
        "DEBUG",
    )
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SECURE": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "AXES_ENABLED": True,
        "DEBUG": False,
    }


@pytest.mark.django_db
def test_the_session_cookie_a_browser_gets_is_secure_and_http_only(settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    user = WorkerFactory.create()
    client = Client()
    page = client.get("/login/", secure=True)
    csrf = page.cookies["csrftoken"]
    assert csrf["secure"] and csrf["httponly"]
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD}, secure=True, follow=False
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"


# ------------------------------------------------------------------------------------------------- CSRF


def _templates() -> list[Path]:
    roots = [Path(settings.BASE_DIR) / "templates", *Path(settings.BASE_DIR).glob("*/templates")]
    return sorted({p for root in roots for p in root.rglob("*.html") if ".venv" not in p.parts})


def test_every_post_form_in_every_template_carries_a_csrf_token():
    missing = []
    for template in _templates():
        text = template.read_text()
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, flags=re.S | re.I):
            if re.search(
                r'method=["\']?post', match.group(0), flags=re.I
            ) and "{% csrf_token %}" not in match.group(0):
                missing.append(f"{template.relative_to(settings.BASE_DIR)}: {match.group(0)[:80]}")
    assert not missing, missing


def _html_post_routes() -> list[str]:
    return sorted(
        route.name
        for route in all_routes()
        if not is_api(route) and route.namespace is None and "POST" in MATRIX.get(route.name, {})
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", _html_post_routes())
def test_every_html_post_without_a_csrf_token_is_refused(name):
    from tests.security.matrix import PARAMS, World, build_world, route_path

    world: World = build_world()
    route = next(r for r in all_routes() if r.name == name)
    assert all(p in PARAMS for p in route.params)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["owner"] if "pool" in name or "webhook" in name else world.users["worker"])
    before = (Pool.objects.count(), User.objects.count())
    response = client.post(route_path(route, world), {"label": "OK", "username": "x", "password": "y"})
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert (Pool.objects.count(), User.objects.count()) == before


@pytest.mark.django_db
def test_the_api_with_a_session_cookie_needs_the_csrf_token(requester):
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    body = {"name": "P", "labels": ["A", "B"], "reward": "0.05", "overlap": 1}
    response = client.post("/api/v1/pools/", body, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Pool.objects.exists()
    # The token is a header a page from another site cannot send, so token calls need no CSRF token.
    with_token = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {requester.auth_token.key}")
    assert with_token.post("/api/v1/pools/", body, content_type="application/json").status_code == 201


@pytest.mark.django_db
def test_a_form_with_its_csrf_token_goes_through():
    user = WorkerFactory.create()
    client = Client(enforce_csrf_checks=True)
    token = client.get("/login/").cookies["csrftoken"].value
    page = client.get("/login/").content.decode()
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert form_token and token
    response = client.post(
        "/login/",
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": form_token.group(1)},
    )
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(user.pk)


# ------------------------------------------------------------------------------------- log-in lockout


@pytest.fixture
def axes_on(settings: Any) -> Any:
    settings.AXES_ENABLED = True
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 20
    return settings


def _login(client: Client, username: str, password: str, ip: str = "203.0.113.7", **extra: Any) -> Any:
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def _fail(client: Client, username: str, times: int, ip: str = "203.0.113.7") -> list[int]:
    return [_login(client, username, "wrong-password", ip).status_code for _ in range(times)]


@pytest.mark.django_db
def test_repeated_failures_lock_the_username_and_address_out(axes_on):
    user = WorkerFactory.create()
    client = Client()
    # Four wrong passwords get the form again; the fifth locks the pair out.
    assert _fail(client, user.username, 5) == [200, 200, 200, 200, 429]
    # Even the right password is refused now, with the same answer, so the lockout tells nothing about it.
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed log-ins" in page and "Try again in 15 minutes" in page
    assert response["Retry-After"] == str(15 * 60)
    assert SESSION_KEY not in client.session


@pytest.mark.django_db
def test_a_lockout_is_per_username_and_address(axes_on):
    user, neighbour = WorkerFactory.create_batch(2)
    _fail(Client(), user.username, 5, ip="203.0.113.7")
    # The same person from another address, and another user from the same address, still log in.
    assert _login(Client(), user.username, PASSWORD, ip="198.51.100.20").status_code == 302
    assert _login(Client(), neighbour.username, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_escape_a_lockout(axes_on):
    axes_on.PROXY_COUNT = 1
    user = WorkerFactory.create()
    for n in range(5):
        # The proxy appends the real address; the client forges a new one to its left each time.
        forwarded = f"10.9.9.{n}, 203.0.113.7"
        _login(Client(), user.username, "wrong", ip="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    response = _login(
        Client(), user.username, PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7"
    )
    assert response.status_code == 429


def test_no_forwarding_header_is_trusted_unless_the_operator_names_the_proxies(settings):
    assert settings.PROXY_COUNT == 0  # the default, with no PROXY_COUNT in the environment


@pytest.mark.django_db
def test_with_no_proxy_configured_a_forged_forwarded_for_changes_nothing(axes_on, client):
    """The probe's case: a locked-out username, the right password and `X-Forwarded-For: 1.2.3.4`."""
    user = RequesterFactory.create()
    _fail(Client(), user.username, 5)
    forged = {"HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert _login(Client(), user.username, PASSWORD, **forged).status_code == 429
    token = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.7",
        **forged,
    )
    assert token.status_code == 429 and "token" not in token.json()
    admin = Client().post(
        "/admin/login/?next=/admin/",
        {"username": user.username, "password": PASSWORD},
        REMOTE_ADDR="203.0.113.7",
        **forged,
    )
    assert admin.status_code == 429


@pytest.mark.django_db
def test_wrong_token_attempts_with_a_new_forwarded_for_each_are_locked_out(axes_on, client):
    user = RequesterFactory.create()
    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": "wrong"},
            content_type="application/json",
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(12)
    ]
    assert statuses[:4] == [400] * 4 and set(statuses[4:]) == {429}


@pytest.mark.django_db
def test_a_username_is_locked_out_whatever_the_addresses_the_guesses_come_from(axes_on):
    user, neighbour = WorkerFactory.create_batch(2)
    # Four wrong passwords from each of five addresses: no pair reaches its limit, the username does.
    for n in range(5):
        assert _fail(Client(), user.username, 4, ip=f"198.51.100.{n}")[-1] == (429 if n == 4 else 200)
    # Now even the right password from an address never seen is refused; other users are not affected.
    assert _login(Client(), user.username, PASSWORD, ip="192.0.2.99").status_code == 429
    assert _login(Client(), neighbour.username, PASSWORD, ip="198.51.100.1").status_code == 302


@pytest.mark.django_db
def test_a_few_strangers_failures_do_not_lock_the_real_user_out(axes_on):
    user = WorkerFactory.create()
    _fail(Client(), user.username, 5, ip="198.51.100.66")  # that pair is locked out
    assert _login(Client(), user.username, PASSWORD, ip="198.51.100.66").status_code == 429
    # The user, from their own address, still logs in: 5 failures are far below the username's limit.
    assert _login(Client(), user.username, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_the_api_token_endpoint_is_locked_out_too(axes_on, client):
    user = RequesterFactory.create()
    body = {"username": user.username, "password": "nope"}
    statuses = [
        client.post("/api/v1/auth/token/", body, content_type="application/json").status_code
        for _ in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]
    response = client.post(
        "/api/v1/auth/token/",
        {"username": user.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    error = response.json()["error"]
    assert error["code"] == "locked_out" and "Too many failed log-ins" in error["message"]
    assert error["details"] == {"retry_after": 900}
    assert "token" not in response.json()


@pytest.mark.django_db
def test_failures_on_the_page_and_the_api_add_up(axes_on, client):
    user = RequesterFactory.create()
    _fail(client, user.username, 3)
    for _ in range(2):
        client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": "x"},
            content_type="application/json",
            REMOTE_ADDR="203.0.113.7",
        )
    assert _login(Client(), user.username, PASSWORD).status_code == 429


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(axes_on):
    user = WorkerFactory.create()
    _fail(Client(), user.username, 5)
    assert _login(Client(), user.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _login(Client(), user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_successful_log_in_clears_earlier_failures(axes_on):
    user = WorkerFactory.create()
    _fail(Client(), user.username, 4)
    assert _login(Client(), user.username, PASSWORD).status_code == 302
    _fail(Client(), user.username, 4)
    assert _login(Client(), user.username, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_admin_log_in_is_locked_out_too(axes_on):
    staff = User.objects.create_user("boss", password=PASSWORD, is_staff=True, role="admin")
    client = Client()
    for _ in range(5):
        client.post(
            "/admin/login/", {"username": staff.username, "password": "no"}, REMOTE_ADDR="203.0.113.9"
        )
    response = client.post(
        "/admin/login/", {"username": staff.username, "password": PASSWORD}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 429


# ------------------------------------------------------------------------------------------- passwords


@pytest.mark.django_db
@pytest.mark.parametrize("password", ["password", "12345678", "short", "alice-signup", "qwertyuiop"])
def test_sign_up_refuses_weak_passwords(client, password):
    response = client.post(
        "/signup/",
        {"username": "alice-signup", "password1": password, "password2": password, "role": "worker"},
    )
    assert response.status_code == 200
    assert "error" in response.content.decode()
    assert not User.objects.filter(username="alice-signup").exists()


@pytest.mark.django_db
def test_sign_up_accepts_a_strong_password(client):
    password = "plum-orbit-canvas-71"
    response = client.post(
        "/signup/",
        {"username": "alice-signup", "password1": password, "password2": password, "role": "worker"},
    )
    assert response.status_code == 302
    assert User.objects.get(username="alice-signup").check_password(password)


@pytest.mark.django_db
def test_accounts_made_by_the_service_follow_the_same_rules():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        account_create(username="bob", password="password", role="worker")
    assert not User.objects.filter(username="bob").exists()


@pytest.mark.django_db
def test_passwords_are_stored_hashed(client):
    client.post(
        "/signup/",
        {
            "username": "carol",
            "password1": "plum-orbit-canvas-71",
            "password2": "plum-orbit-canvas-71",
            "role": "worker",
        },
    )
    stored = User.objects.get(username="carol").password
    assert "plum-orbit-canvas-71" not in stored and stored.count("$") >= 2


def test_production_hashes_passwords_with_a_slow_hasher():
    hashers = production_settings("PASSWORD_HASHERS")["PASSWORD_HASHERS"]
    assert hashers[0] in (
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    )
