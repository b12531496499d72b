from quality.types.multi_choice import maths, shape
from quality.types.task_type import TaskType

TYPE = TaskType(
    export_shape="texts",
    per_label_confidence=True,
    estimate_alone=maths.estimate_alone,
    golden_score_name="mean Jaccard similarity",
    name="multi_choice",
    title="Several labels",
    summary="Workers tick every label that applies (possibly none).",
    needs_labels=True,
    min_labels=1,
    option_names=("golden_share",),
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
    annotator="types/multi_choice/annotator.html",
    keys=(("Keys 1\u20139", "tick or untick a label"), ("Enter", "submits"), ("S", "skips")),
    form_answer=lambda form: form.getlist("answer"),
    option_help={
        "golden_share": (
            "Golden match that counts as correct (several labels)",
            "0 to 1: the share of labels a worker's answer must have in common with the golden answer "
            "(Jaccard similarity); 1 asks for exactly the golden labels.",
        )
    },
)
