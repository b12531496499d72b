import json
from typing import Any

from quality.types.boxes import maths, shape
from quality.types.task_type import TaskType


def _form_answer(form: Any) -> Any:
    """The annotator posts the list of boxes as JSON text in one field; text that is not JSON is handed on as
    it came, so answer_parse names what is wrong with it."""
    raw = form.get("answer")
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


TYPE = TaskType(
    export_shape="records",
    golden_score_name="mean F1",
    name="boxes",
    title="Boxes on an image",
    summary="Workers draw a box around each object on an image and give it one of the labels (possibly none).",
    needs_labels=True,
    min_labels=1,
    option_names=("image_field", "iou_threshold", "golden_share"),
    options_clean=shape.options_clean,
    data_problem=shape.data_problem,
    answer_parse=shape.answer_parse,
    golden_parse=shape.golden_parse,
    answer_value=shape.answer_value,
    label_studio_result=shape.label_studio_result,
    golden_score=maths.golden_score,
    golden_correct=maths.golden_correct,
    aggregate=maths.aggregate,
    data_fields=(),
    annotator="types/boxes/annotator.html",
    keys=(
        ("Drag", "draw a box"),
        ("1\u20139", "label the selected box"),
        ("Delete", "removes it"),
        ("Arrows", "nudge it"),
        ("Enter", "submits"),
    ),
    form_answer=_form_answer,
    annotator_fields=lambda options: (options["image_field"],),
    option_help={
        "image_field": (
            "Data field with the image URL (boxes)",
            'The name of the task data field that holds each image\'s http(s) URL; "image" unless you say.',
        ),
        "iou_threshold": (
            "Overlap that makes two boxes the same object (boxes)",
            "More than 0 and less than 1, as intersection over union; 0.5 unless you say. Used to score golden "
            "answers and to group the workers' boxes.",
        ),
        "golden_share": (
            "Golden match that counts as correct (several labels, boxes)",
            "0 to 1: for several labels, the share of labels in common with the golden answer (Jaccard "
            "similarity); for boxes, the F1 score of boxes matched to the golden boxes. 1 asks for an exact match.",
        ),
    },
)
