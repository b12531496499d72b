from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts.api import TokenView
from fairlabel import errors
from fairness import api as fairness_api
from integrations import api as integrations_api
from payouts import api as payouts_api
from quality import api as quality_api
from requester import api as requester_api
from worker import api as worker_api

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("me/", worker_api.MeView.as_view(), name="api-me"),
    path("pools/", requester_api.PoolListView.as_view(), name="api-pools"),
    path("pools/<str:pool_id>/", requester_api.PoolDetailView.as_view(), name="api-pool"),
    path("pools/<str:pool_id>/tasks/", requester_api.PoolTasksView.as_view(), name="api-pool-tasks"),
    path("pools/<str:pool_id>/open/", requester_api.PoolOpenView.as_view(), name="api-pool-open"),
    path("pools/<str:pool_id>/close/", requester_api.PoolCloseView.as_view(), name="api-pool-close"),
    path("pools/<str:pool_id>/answers/", requester_api.PoolAnswersView.as_view(), name="api-pool-answers"),
    path("pools/<str:pool_id>/results/", requester_api.PoolResultsView.as_view(), name="api-pool-results"),
    path("assignments/next/", worker_api.AssignmentNextView.as_view(), name="api-assignment-next"),
    path(
        "assignments/<str:assignment_id>/submit/",
        worker_api.AssignmentSubmitView.as_view(),
        name="api-submit",
    ),
    path("assignments/<str:assignment_id>/skip/", worker_api.AssignmentSkipView.as_view(), name="api-skip"),
    path("ping/", worker_api.PingView.as_view(), name="api-ping"),
    path("imports/<str:job_id>/", integrations_api.ImportJobView.as_view(), name="api-import-job"),
    path("webhooks/", integrations_api.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<str:webhook_id>/", integrations_api.WebhookDetailView.as_view(), name="api-webhook"),
    path("me/withdrawals/", payouts_api.WithdrawalListView.as_view(), name="api-withdrawals"),
    path("answers/<str:answer_id>/accept/", payouts_api.AnswerAcceptView.as_view(), name="api-answer-accept"),
    path("answers/<str:answer_id>/reject/", payouts_api.AnswerRejectView.as_view(), name="api-answer-reject"),
    path(
        "pools/<str:pool_id>/answers/accept/",
        payouts_api.PoolAcceptPendingView.as_view(),
        name="api-pool-answers-accept",
    ),
    # Fair work.
    path("feed/", fairness_api.FeedView.as_view(), name="api-feed"),
    path("me/decisions/", fairness_api.MyDecisionsView.as_view(), name="api-my-decisions"),
    path(
        "me/decisions/<str:decision_id>/appeal/", fairness_api.AppealCreateView.as_view(), name="api-appeal"
    ),
    path("me/export/", fairness_api.MyExportView.as_view(), name="api-my-export"),
    path("me/care/", fairness_api.CarePreferencesView.as_view(), name="api-my-care"),
    path("appeals/", fairness_api.AppealQueueView.as_view(), name="api-appeals"),
    path(
        "appeals/<str:appeal_id>/decide/", fairness_api.AppealDecideView.as_view(), name="api-appeal-decide"
    ),
    path("pools/<str:pool_id>/reward/", fairness_api.PoolRewardView.as_view(), name="api-pool-reward"),
    path(
        "requesters/<str:requester_id>/rating/",
        fairness_api.RequesterRatingView.as_view(),
        name="api-requester-rating",
    ),
    path("aggregate/", quality_api.AggregateView.as_view(), name="api-aggregate"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path(
        "api/docs/",
        # Redoc draws with styles it injects and searches in a worker it builds from a blob: on this page only.
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    # After every API route: the rest of /api/ answers the contract's JSON 404, whatever the method.
    re_path(r"^api/(?P<unmatched>.*)$", errors.api_route_not_found, name="api-not-found"),
    path("admin/", admin.site.urls),
    path("", include("fairlabel.web_urls")),
]

handler400 = errors.bad_request
handler500 = errors.server_error
