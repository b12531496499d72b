from quality.types.pairwise import maths, shape
from quality.types.task_type import TaskType

TYPE = TaskType(
    golden_score_name="agreement",
    name="pairwise",
    title="Comparison",
    summary='Workers see two items side by side and choose the better one (each task has "left" and "right").',
    needs_labels=False,
    min_labels=0,
    option_names=("allow_tie", "pairwise_model"),
    options_clean=shape.options_clean,
    data_problem=shape.data_problem,
    answer_parse=shape.answer_parse,
    golden_parse=shape.golden_parse,
    answer_value=shape.answer_value,
    label_studio_result=shape.label_studio_result,
    golden_score=maths.golden_score,
    golden_correct=maths.golden_correct,
    aggregate=maths.aggregate,
    data_fields=("left", "right"),
    annotator="types/pairwise/annotator.html",
    keys=(("\u2190 \u2192", "choose left or right"), ("T", "a tie, where allowed"), ("S", "skips")),
    form_answer=lambda form: form.get("answer"),
    annotator_fields=lambda options: ("left", "right"),
    option_help={
        "allow_tie": ("Workers may answer “equally good” (comparison)", ""),
        "pairwise_model": (
            "Ranking model (comparison)",
            "bt (Bradley-Terry) or noisy_bt (also estimates each worker's reliability).",
        ),
    },
)
