"""HTML pages for money: included by the platform at the site root."""

from django.urls import path

from payouts import views

urlpatterns = [
    path("earnings/", views.earnings, name="earnings"),
    path("earnings/withdraw/", views.earnings_withdraw, name="earnings-withdraw"),
    path("billing/", views.billing, name="billing"),
    path("review/", views.review, name="review"),
    path("review/<id:pool_id>/", views.review_pool, name="review-pool"),
    path("review/<id:pool_id>/accept-all/", views.review_accept_all, name="review-accept-all"),
    path(
        "review/answers/<id:answer_id>/accept/",
        views.review_decide,
        {"decision": "accept"},
        name="review-accept",
    ),
    path(
        "review/answers/<id:answer_id>/reject/",
        views.review_decide,
        {"decision": "reject"},
        name="review-reject",
    ),
]
