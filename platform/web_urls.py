from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter

from accounts import views as account_views
from fairlabel.numbers import IdConverter
from fairness import views as fair_views
from integrations import views as integration_views
from quality import views as quality_views
from requester import views as requester_views
from worker import views as worker_views

register_converter(IdConverter, "id")

urlpatterns = [
    path("", account_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", account_views.signup, name="signup"),
    path("account/token/", account_views.api_token, name="api-token-page"),
    path("account/token/regenerate/", account_views.api_token_regenerate, name="api-token-regenerate"),
    path("", include("payouts.urls")),
    path("feed/", worker_views.feed, name="feed"),
    path("work/", worker_views.work, name="work"),
    path("work/<id:assignment_id>/submit/", worker_views.work_submit, name="work-submit"),
    path("work/<id:assignment_id>/skip/", worker_views.work_skip, name="work-skip"),
    path("pools/", requester_views.pool_list, name="pool-list"),
    path("pools/new/", requester_views.pool_create, name="pool-create"),
    path("pools/<id:pool_id>/", requester_views.pool_detail, name="pool-detail"),
    path("pools/<id:pool_id>/upload/", requester_views.pool_upload, name="pool-upload"),
    path("pools/<id:pool_id>/open/", requester_views.pool_open, name="pool-open"),
    path("pools/<id:pool_id>/close/", requester_views.pool_close, name="pool-close"),
    path("pools/<id:pool_id>/pause/", requester_views.pool_pause, name="pool-pause"),
    path("pools/<id:pool_id>/resume/", requester_views.pool_resume, name="pool-resume"),
    path("pools/<id:pool_id>/priority/", requester_views.pool_priority, name="pool-priority"),
    path("pools/<id:pool_id>/instructions/", requester_views.pool_instructions, name="pool-instructions"),
    path("webhooks/", integration_views.webhook_list, name="webhook-list"),
    path("webhooks/<id:webhook_id>/", integration_views.webhook_detail, name="webhook-detail"),
    path("webhooks/<id:webhook_id>/delete/", integration_views.webhook_delete, name="webhook-delete"),
    path("pools/<id:pool_id>/download/<str:kind>/", requester_views.pool_download, name="pool-download"),
    # Fair work.
    path("decisions/", fair_views.decisions, name="fair-decisions"),
    path("decisions/<id:decision_id>/appeal/", fair_views.decision_appeal, name="fair-decision-appeal"),
    path("care/", fair_views.care, name="fair-care"),
    path("ratings/", fair_views.ratings, name="fair-ratings"),
    path("ratings/<id:requester_id>/", fair_views.rating_save, name="fair-rating-save"),
    path("skill/", fair_views.quality, name="fair-quality"),
    path("me/data/", fair_views.my_data, name="my-data"),
    path("me/data/export/", fair_views.my_data_export, name="my-data-export"),
    path("me/delete/", fair_views.account_delete, name="account-delete"),
    path("fair-pay/", fair_views.requester_overview, name="fair-requester"),
    path("pools/<id:pool_id>/reward/", fair_views.pool_reward, name="fair-pool-reward"),
    path("appeals/", fair_views.appeals_queue, name="fair-appeals"),
    path("appeals/<id:appeal_id>/decide/", fair_views.appeal_decide, name="fair-appeal-decide"),
    path("staff/fairness/appeals/", fair_views.staff_appeals, name="staff-fair-appeals"),
    path("staff/fairness/audit/", fair_views.staff_audit, name="staff-fair-audit"),
    path("staff/fairness/blocks/", fair_views.staff_blocks, name="staff-fair-blocks"),
    path(
        "staff/fairness/blocks/<id:decision_id>/lift/",
        fair_views.staff_block_lift,
        name="staff-fair-block-lift",
    ),
    # Quality: the worker's skill and restrictions; the staff quality review.
    path("quality/", quality_views.worker_quality, name="worker-quality"),
    path("staff/quality/", quality_views.staff_overview, name="staff-quality"),
    path("staff/quality/pools/<id:pool_id>/", quality_views.staff_pool, name="staff-quality-pool"),
    path("staff/quality/workers/<id:worker_id>/", quality_views.staff_worker, name="staff-quality-worker"),
    path(
        "staff/quality/workers/<id:worker_id>/restrict/",
        quality_views.staff_restrict,
        name="staff-quality-restrict",
    ),
    path(
        "staff/quality/restrictions/<id:restriction_id>/lift/",
        quality_views.staff_lift,
        name="staff-quality-lift",
    ),
]
