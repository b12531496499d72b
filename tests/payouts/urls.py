"""The platform's URLs plus the payouts pages (in case the site has not included them yet)."""

from django.urls import include, path

from fairlabel.urls import urlpatterns as platform_urlpatterns

urlpatterns = [path("", include("payouts.urls")), *platform_urlpatterns]
