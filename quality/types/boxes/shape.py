"""Boxes drawn around objects on an image, each with one of the pool's labels (the classes).

An answer is a list of boxes {"label", "x", "y", "w", "h"}: the top-left corner and the size, as fractions of
the image's width and height, so the same answer fits the image at any display size. The empty list (nothing to
box) is a valid answer. The canonical text keeps the boxes in the order drawn, with coordinates rounded to
6 decimals (a millionth of the image, finer than any pixel) and clipped into the image where a float sum
overshoots it by a hair.

A task may carry the image's size in pixels as data fields "width" and "height" (both or neither, whole numbers
above 0, or their digits as text from a CSV cell); the COCO export needs them to turn fractions into pixels.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from quality.types.base import AnswerProblem

DEFAULT_IMAGE_FIELD = "image"
DEFAULT_IOU_THRESHOLD = 0.5
DEFAULT_GOLDEN_SHARE = 1.0
MAX_BOXES = 100
DECIMALS = 6
# How far outside the image a coordinate may be and still count as on its edge: float sums such as
# 0.7 + 0.3 land a few 1e-16 off, and the box is clipped back.
TOLERANCE = 1e-9

_FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
_KEYS = ("label", "x", "y", "w", "h")
SIZE_FIELDS = ("width", "height")
_PIXELS = re.compile(r"[0-9]{1,9}")


def _shown(value: Any) -> str:
    """A value as a message quotes it: its repr, cut short, since a message is shown whole to a person."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _is_number(value: Any) -> bool:
    """A finite int or float; JSON gives ints of any size, and one past a float's range is not a coordinate."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _option_number(value: Any, *, name: str) -> float:
    if not _is_number(value):
        raise AnswerProblem(f"{name} must be a number, got {_shown(value)}")
    return float(value)


def options_clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    field = raw.get("image_field", DEFAULT_IMAGE_FIELD)
    if not isinstance(field, str) or not _FIELD_NAME.fullmatch(field):
        raise AnswerProblem(
            "image_field must be the name of the task data field that holds the image URL: 1 to 100 letters, "
            f"digits or underscores, got {_shown(field)}"
        )
    threshold = _option_number(raw.get("iou_threshold", DEFAULT_IOU_THRESHOLD), name="iou_threshold")
    if not 0 < threshold < 1:
        raise AnswerProblem(
            "iou_threshold must be more than 0 and less than 1 (how much a box must overlap another, as "
            f"intersection over union, to count as the same object), got {threshold!r}"
        )
    share = _option_number(raw.get("golden_share", DEFAULT_GOLDEN_SHARE), name="golden_share")
    if not 0 < share <= 1:
        raise AnswerProblem(
            "golden_share must be more than 0 and at most 1 (how close, as the F1 score of matched boxes, an "
            f"answer must be to the golden answer to count as correct), got {share!r}"
        )
    return {"image_field": field, "iou_threshold": threshold, "golden_share": share}


def data_problem(data: Mapping[str, Any], *, options: Mapping[str, Any]) -> str | None:
    field = str(options["image_field"])
    if field not in data:
        return f"the task data has no {field!r} field (the URL of the image to draw boxes on)"
    url = data[field]
    shown = _shown(url)
    if not isinstance(url, str):
        return f"the {field!r} field must be the image's http(s) URL as text, got {shown}"
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return f"the {field!r} field must be an http:// or https:// URL of the image, got {shown}"
    given = [name for name in SIZE_FIELDS if name in data]
    if len(given) == 1:
        missing = next(name for name in SIZE_FIELDS if name not in given)
        return (
            f"the task data has {given[0]!r} but no {missing!r}: give the image's width and height in pixels "
            "together, or neither"
        )
    for name in given:
        if pixels(data[name]) is None:
            return (
                f"the {name!r} field must be the image's {name} in pixels, a whole number above 0, "
                f"got {_shown(data[name])}"
            )
    return None


def pixels(value: Any) -> int | None:
    """A width or height in pixels from task data (an integer, or its digits as text from a CSV), else None."""
    if isinstance(value, str) and _PIXELS.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 10**9:
        return None
    return value


def coco_bbox(box: Mapping[str, Any], *, width: int, height: int) -> list[float]:
    """A box's [x, y, w, h] in pixels, as COCO gives it, to a hundredth of a pixel."""
    return [
        round(float(box["x"]) * width, 2),
        round(float(box["y"]) * height, 2),
        round(float(box["w"]) * width, 2),
        round(float(box["h"]) * height, 2),
    ]


def _example(labels: Sequence[str]) -> str:
    label = json.dumps(labels[0] if labels else "Car", ensure_ascii=False)
    return f'[] or [{{"label":{label},"x":0.1,"y":0.2,"w":0.3,"h":0.4}}]'


def _box(raw: Any, *, labels: Sequence[str], where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AnswerProblem(f"{where} must be an object with label, x, y, w and h; got {_shown(raw)}")
    missing = [key for key in _KEYS if key not in raw]
    if missing:
        raise AnswerProblem(f"{where} has no {', '.join(missing)}; a box needs label, x, y, w and h")
    extra = sorted(str(key) for key in raw if key not in _KEYS)
    if extra:
        raise AnswerProblem(
            f"{where} has unknown keys {', '.join(extra)}; a box has only label, x, y, w and h"
        )
    label = raw["label"]
    if not isinstance(label, str) or label not in labels:
        raise AnswerProblem(
            f"{where}: label {_shown(label)} is not one of this pool's labels ({', '.join(labels)})"
        )
    x, y, w, h = (raw[key] for key in _KEYS[1:])
    for name, value in zip(_KEYS[1:], (x, y, w, h), strict=True):
        if not _is_number(value):
            raise AnswerProblem(
                f"{where}: {name} must be a number (a fraction of the image), got {_shown(value)}"
            )
    for name, start, size, side in (("x", x, w, "width"), ("y", y, h, "height")):
        if start < -TOLERANCE:
            raise AnswerProblem(
                f"{where}: {name} must be at least 0 (the box leaves the image), got {start!r}"
            )
        if size <= 0:
            raise AnswerProblem(f"{where}: {'w' if name == 'x' else 'h'} must be more than 0, got {size!r}")
        if start + size > 1 + TOLERANCE:
            raise AnswerProblem(
                f"{where}: {name} + {'w' if name == 'x' else 'h'} must be at most 1 (the box leaves the image "
                f"on its {side}), got {name}={start!r}, {'w' if name == 'x' else 'h'}={size!r}"
            )
    x, y = round(min(max(float(x), 0.0), 1.0), DECIMALS), round(min(max(float(y), 0.0), 1.0), DECIMALS)
    # Rounding x and w each up by half a millionth could push the far edge past 1: shrink w to fit instead.
    w = min(round(float(w), DECIMALS), round(1.0 - x, DECIMALS))
    h = min(round(float(h), DECIMALS), round(1.0 - y, DECIMALS))
    if w <= 0 or h <= 0:
        raise AnswerProblem(
            f"{where} is too small: w and h must be at least 0.000001 (a millionth of the image), got "
            f"w={raw['w']!r}, h={raw['h']!r}"
        )
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def _canonical(raw: Any, *, labels: Sequence[str], what: str) -> str:
    if not isinstance(raw, list):
        raise AnswerProblem(f"the {what} must be a list of boxes, e.g. {_example(labels)}; got {_shown(raw)}")
    if len(raw) > MAX_BOXES:
        raise AnswerProblem(f"the {what} has {len(raw)} boxes; at most {MAX_BOXES} are allowed")
    boxes = [_box(box, labels=labels, where=f"box {n} of the {what}") for n, box in enumerate(raw, start=1)]
    return json.dumps(boxes, ensure_ascii=False, separators=(",", ":"))


def answer_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    return _canonical(raw, labels=labels, what="answer")


def golden_parse(raw: Any, *, labels: Sequence[str], options: Mapping[str, Any]) -> str:
    if isinstance(raw, str):  # a CSV cell holds the list as JSON text
        try:
            raw = json.loads(raw)
        except ValueError:
            shown = raw if len(raw) <= 100 else raw[:97] + "..."
            raise AnswerProblem(
                f"the golden answer {shown!r} is not a JSON list of boxes, e.g. {_example(labels)}"
            ) from None
    return _canonical(raw, labels=labels, what="golden answer")


def answer_value(text: str) -> Any:
    # orjson: a run decodes every answer of the pool (a million boxes answers took 6.5 s with json).
    return orjson.loads(text)


def label_studio_result(answer: Any) -> list[dict[str, Any]]:
    """The boxes as <RectangleLabels name="answer" toName="image"> results: Label Studio gives a box's corner
    and size in percent of the image, where the answer has fractions."""
    return [
        {
            "id": f"box{n}",
            "from_name": "answer",
            "to_name": "image",
            "type": "rectanglelabels",
            "value": {
                "x": round(float(box["x"]) * 100, 4),
                "y": round(float(box["y"]) * 100, 4),
                "width": round(float(box["w"]) * 100, 4),
                "height": round(float(box["h"]) * 100, 4),
                "rotation": 0,
                "rectanglelabels": [box["label"]],
            },
        }
        for n, box in enumerate(answer or [], start=1)
    ]
