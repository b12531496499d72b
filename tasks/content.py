"""What of a task's content a worker's browser may show and load.

A worker's browser fetches every image on a task page. An image on a host the requester runs tells that requester
when, how often and from which address each worker opens each task, so images load only from hosts the platform's
operator allows (TASK_IMAGE_HOSTS, typically the team's image bucket or CDN) or from the page itself (data: images).
The same list is the Content-Security-Policy's img-src (fairlabel.settings), so the browser refuses what this module
would have removed, should a path ever miss it.
"""

from __future__ import annotations

import re

import nh3
from django.conf import settings

# Browsers drop these before reading a URL (the URL Standard): judge the URL as the browser will.
_STRIPPED_AT_ENDS = "".join(chr(c) for c in range(0x21))
_REMOVED_ANYWHERE = re.compile(r"[\t\n\r]")
_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp|avif);base64,[A-Za-z0-9+/]+=*$", re.IGNORECASE)
# Scheme, then a host with no user name, no backslash (read as a slash) and no percent-encoding; an optional port.
_WEB_URL = re.compile(
    r"^https?://(?P<host>[a-z0-9.-]+)(?::[0-9]{1,5})?(?:[/?#][^\s\\\"'<>]*)?$", re.IGNORECASE
)
_IMAGE_PATH = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:\?[^#]*)?(?:#.*)?$", re.IGNORECASE)


def image_host_allowed(host: str) -> bool:
    """The host is on the operator's list, by name or under a `*.` entry."""
    host = host.lower().rstrip(".")
    for allowed in settings.TASK_IMAGE_HOSTS:
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]) and host != allowed[2:]:
                return True
        elif host == allowed:
            return True
    return False


def image_source(value: str) -> str | None:
    """The URL as a worker's browser may load it in an <img>, or None where it must not be loaded."""
    url = _REMOVED_ANYWHERE.sub("", value.strip(_STRIPPED_AT_ENDS))
    if _DATA_IMAGE.match(url):
        return url
    web = _WEB_URL.match(url)
    if web and image_host_allowed(web["host"]):
        return url
    return None


def _names_an_image(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.strip().lower().startswith(("http://", "https://", "data:image/"))
        and (value.strip().lower().startswith("data:") or bool(_IMAGE_PATH.search(value.strip())))
    )


def image_field_source(value: object) -> str | None:
    """A task field that is an image (a URL ending in an image type, or a data: image) it may load, for src."""
    return image_source(value) if isinstance(value, str) and _names_an_image(value) else None


def image_field_blocked(value: object) -> bool:
    """A task field that names an image the platform will not load: shown as text with a word why."""
    return _names_an_image(value) and image_field_source(value) is None


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return image_source(value)
    if value.strip(_STRIPPED_AT_ENDS).lower().startswith("data:"):
        return None  # data: is for images only, not links
    return value


def task_html_clean(text: str) -> str:
    """A field of a pool that allows HTML: nh3's safe subset, and images only from where image_source allows."""
    return nh3.clean(text, attribute_filter=_keep_attribute, url_schemes=nh3.ALLOWED_URL_SCHEMES | {"data"})
