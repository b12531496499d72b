"""Settings for every environment, driven by environment variables (see README's configuration table)."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from fairlabel.money import parse_money
from fairlabel.numbers import parse_whole

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _load_development_env(path: Path) -> None:
    """`make run` writes var/development.env (DEBUG=1 and a key kept across restarts), so every command in a
    second terminal (`python3 manage.py deposit ...`) runs against the same development platform with nothing
    to export. Variables already set win. A production host has no such file, so it still refuses to start
    without SECRET_KEY."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


DEVELOPMENT_ENV = Path(os.environ.get("VAR_DIR", BASE_DIR / "var")) / "development.env"
if not _env_bool("FAIRLABEL_TESTING", False):
    _load_development_env(DEVELOPMENT_ENV)

DEBUG = _env_bool("DEBUG", False)
TESTING = _env_bool("FAIRLABEL_TESTING", False)
# Set by manage.py for a command that works on files alone (`aggregate`): it opens no database and signs
# nothing, so it starts on a fresh clone with neither DATABASE_URL nor SECRET_KEY.
FILES_ONLY = _env_bool("FAIRLABEL_FILES_ONLY", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING or FILES_ONLY:
        # A random key per process: development sessions simply end on restart.
        SECRET_KEY = "dev-only-" + os.urandom(32).hex()
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) refuses to start without one: "
            "export SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # The form widgets' own templates, for the project's FORM_RENDERER.
    "django.forms",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_dramatiq",
    "axes",
    "accounts",
    "payouts",
    "tasks",
    "quality",
    "fairness",
    "integrations",
    "demo",
    # The project package itself, for its commands: runplatform (`make run`) and run_scheduler.
    "fairlabel.apps.FairlabelConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Answers 413 to an oversized body before anything (CSRF, a parser) reads it.
    "fairlabel.uploads.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fairlabel.middleware.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "fairlabel.middleware.HtmxLoginRedirectMiddleware",
    "fairlabel.middleware.ServiceErrorMiddleware",
    # Last, as django-axes asks: turns a locked-out log-in into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "fairlabel.urls"
WSGI_APPLICATION = "fairlabel.wsgi.application"
ASGI_APPLICATION = "fairlabel.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Each task type keeps its annotator fragment in its own folder (quality/types/<type>/templates).
        "DIRS": [BASE_DIR / "templates", *sorted((BASE_DIR / "quality" / "types").glob("*/templates"))],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fairlabel.context_processors.platform",
            ],
        },
    }
]

FORM_RENDERER = "fairlabel.forms.FormRenderer"

VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL and FILES_ONLY:
    DATABASE_URL = "postgres://files-only@127.0.0.1:1/none"  # never opened: a connection attempt fails loudly
elif not DATABASE_URL:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "DATABASE_URL is not set. Production needs its PostgreSQL server: "
            "export DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME"
        )
    from fairlabel.embedded_postgres import embedded_postgres_url

    DATABASE_URL = embedded_postgres_url(data_dir=VAR_DIR / "postgres", database="fairlabel")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must name a PostgreSQL database (postgres://…): the only engine we run"
    )
# The feed's own statements ask to be prepared (fairlabel.sql); Django's queries never are. Off for a
# pooler that cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["prepare_threshold"] = 5 if _env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
# No JIT: the dashboard's grouped reads and the exports over a big pool took 0.1-0.3 s to run and 1-2 s
# more to JIT-compile (a pool of 1,000,000 tasks and 3,000,000 answers); the claims never gain from it.
_db_options["options"] = f"{_db_options.get('options', '')} -c jit=off".strip()

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes first: it refuses a locked-out username+address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static", *sorted((BASE_DIR / "quality" / "types").glob("*/static"))]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploads larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The largest multipart (file upload) request; other bodies stop at DATA_UPLOAD_MAX_MEMORY_SIZE. Both are
# enforced from Content-Length before the body is read (fairlabel.uploads). Keep it above the largest
# task file the importer accepts, plus room for the multipart framing.
MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(1025 * 1024 * 1024)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "fairlabel.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "fairlabel.parsers.SafeJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "fairlabel.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "fairlabel.schema.ErrorListingSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    # `?format=csv` selects an export format, not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
    # 429 with Retry-After past these (fairlabel.throttling): per account for token or session calls, per
    # client address for anonymous ones (the token endpoint, the schema).
    "DEFAULT_THROTTLE_CLASSES": [
        "fairlabel.throttling.AccountRateThrottle",
        "fairlabel.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "account": os.environ.get("API_RATE_USER", "6000/min"),
        "anon": os.environ.get("API_RATE_ANON", "60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fairlabel API",
    "DESCRIPTION": "REST API v1 for requesters and workers.",
    "VERSION": "1.0.0",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Three "status" choice sets share a field name; named here so the schema (and check --deploy) is clean.
    "ENUM_NAME_OVERRIDES": {
        "PoolStatusEnum": ["draft", "open", "closed", "completed"],
        "AppealStatusEnum": ["pending", "upheld", "denied"],
        "WithdrawalStatusEnum": ["requested", "processing", "paid", "failed"],
    },
}

# Background jobs. No broker URL: an in-memory broker whose worker thread runs inside the web process
# (`make run` only). Production: redis://… or amqp://… with `make worker` processes.
DRAMATIQ_BROKER_URL = os.environ.get("DRAMATIQ_BROKER_URL", "")
if DRAMATIQ_BROKER_URL.startswith("redis"):
    _broker_class, _broker_options = "dramatiq.brokers.redis.RedisBroker", {"url": DRAMATIQ_BROKER_URL}
elif DRAMATIQ_BROKER_URL.startswith("amqp"):
    _broker_class, _broker_options = "dramatiq.brokers.rabbitmq.RabbitmqBroker", {"url": DRAMATIQ_BROKER_URL}
elif DRAMATIQ_BROKER_URL:
    raise ImproperlyConfigured("DRAMATIQ_BROKER_URL must start with redis:// or amqp://")
else:
    _broker_class, _broker_options = "dramatiq.brokers.stub.StubBroker", {}
DRAMATIQ_BROKER = {
    "BROKER": _broker_class,
    "OPTIONS": _broker_options,
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["actors"]

# Money.
PLATFORM_CURRENCY = os.environ.get("PLATFORM_CURRENCY", "USD")
PLATFORM_FEE_RATE = Decimal(os.environ.get("PLATFORM_FEE_RATE", "0.10"))
if not Decimal("0") <= PLATFORM_FEE_RATE < Decimal("1"):
    raise ImproperlyConfigured("PLATFORM_FEE_RATE must be at least 0 and below 1, e.g. 0.10")

# Fair work. The pay floor per hour in PLATFORM_CURRENCY: a pool whose measured pay (reward over the
# median time per answer) stays below it once it has FLOOR_MIN_ANSWERS answers leaves the worker feed.
# Read with the same parsers as amounts and counts people send, so the figures derived from them fit their columns.
try:
    MIN_HOURLY_PAY = parse_money(
        os.environ.get("MIN_HOURLY_PAY", "8.00"), field="MIN_HOURLY_PAY", allow_zero=True
    )
    FLOOR_MIN_ANSWERS = parse_whole(
        os.environ.get("FLOOR_MIN_ANSWERS", "20"), field="FLOOR_MIN_ANSWERS", low=1, high=1_000_000
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"{exc}, e.g. MIN_HOURLY_PAY=8.00 FLOOR_MIN_ANSWERS=20") from None

# Payouts. "simulated" pays at once from a fake bank (demo, tests); "batch_file" writes a CSV per day
# under PAYOUT_BATCH_DIR for a finance team to upload to the bank.
PAYOUT_PROVIDER = os.environ.get("PAYOUT_PROVIDER", "simulated")
if PAYOUT_PROVIDER not in {"simulated", "batch_file"}:
    raise ImproperlyConfigured("PAYOUT_PROVIDER must be simulated or batch_file")
SIMULATED_PAYOUT_FAILURE_RATE = float(os.environ.get("SIMULATED_PAYOUT_FAILURE_RATE", "0"))
SIMULATED_PAYOUT_DELAY = float(os.environ.get("SIMULATED_PAYOUT_DELAY", "0"))  # seconds per call
PAYOUT_BATCH_DIR = Path(os.environ.get("PAYOUT_BATCH_DIR", VAR_DIR / "payouts"))
PAYOUT_MAX_ATTEMPTS = int(os.environ.get("PAYOUT_MAX_ATTEMPTS", "5"))
PAYOUT_RETRY_BACKOFF = float(os.environ.get("PAYOUT_RETRY_BACKOFF", "30"))  # seconds, doubled per attempt
PAYOUT_ATTEMPT_TIMEOUT = float(os.environ.get("PAYOUT_ATTEMPT_TIMEOUT", "120"))  # then presumed dead

# Import, export and webhooks. An upload larger than IMPORT_BACKGROUND_BYTES is imported by a
# background job from a copy under IMPORT_DIR, which web and worker hosts must share.
IMPORT_DIR = Path(os.environ.get("IMPORT_DIR", VAR_DIR / "imports"))
IMPORT_BACKGROUND_BYTES = int(os.environ.get("IMPORT_BACKGROUND_BYTES", str(5 * 1024 * 1024)))
# POST /api/v1/aggregate/ runs in the web request: bounded, where `manage.py aggregate` is not.
AGGREGATE_MAX_BYTES = int(os.environ.get("AGGREGATE_MAX_BYTES", str(20 * 1024 * 1024)))
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(1024 * 1024 * 1024)))
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "5"))  # seconds per delivery attempt
WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("WEBHOOK_MAX_ATTEMPTS", "8"))
# Never set in production: lets tests deliver to a server on the loopback (the SSRF guard refuses it otherwise).
WEBHOOK_ALLOW_PRIVATE_FOR_TESTS = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "apscheduler": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},  # every start and stop of the embedded server, otherwise
        "axes": {"level": "WARNING"},  # its version banner, at every command
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = _env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# The CSRF token reaches htmx through the page (hx-headers), so no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True


def _image_hosts(raw: str) -> list[str]:
    hosts = [h.strip().lower() for h in raw.split(",") if h.strip()]
    for host in hosts:
        if not re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", host):
            raise ImproperlyConfigured(f"TASK_IMAGE_HOSTS: {host!r} is not a host name (or *.name)")
    return hosts


# Hosts whose images workers' browsers may load in tasks (tasks.content); every other image is not loaded.
TASK_IMAGE_HOSTS = _image_hosts(os.environ.get("TASK_IMAGE_HOSTS", ""))
# Only the platform's own scripts and style sheets run: no inline script or style, no other origin. Images also
# from data: URLs and TASK_IMAGE_HOSTS (added per response by the middleware, so the two lists stay one).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Rate-limit counters must be shared by every web process, so production points CACHE_URL at Redis.
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL:
    raise ImproperlyConfigured("CACHE_URL must start with redis://, rediss:// or unix://")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Reverse proxies in front of the server that append to X-Forwarded-For. The client address is taken that many
# entries from the right; entries further left are the client's own claims. 0 (no header is trusted) unless the
# operator says how many proxies there are: with none in front, any client could write its own address.
PROXY_COUNT = parse_whole(os.environ.get("PROXY_COUNT", "0"), field="PROXY_COUNT", low=0, high=10)

# Log-in lockout (django-axes), on the log-in page, the admin and POST /api/v1/auth/token/ alike, for
# LOGIN_LOCKOUT_MINUTES: LOGIN_FAILURE_LIMIT wrong passwords for one username from one address lock that pair out;
# LOGIN_USERNAME_FAILURE_LIMIT from any addresses lock the username out, so rotating or forged addresses cannot
# guess on (accounts.lockout says why the two limits differ).
LOGIN_FAILURE_LIMIT = parse_whole(
    os.environ.get("LOGIN_FAILURE_LIMIT", "5"), field="LOGIN_FAILURE_LIMIT", low=1, high=1000
)
LOGIN_USERNAME_FAILURE_LIMIT = parse_whole(
    os.environ.get("LOGIN_USERNAME_FAILURE_LIMIT", "20"),
    field="LOGIN_USERNAME_FAILURE_LIMIT",
    low=1,
    high=10000,
)
AXES_FAILURE_LIMIT = "accounts.lockout.failure_limit"
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "fairlabel.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
