from quality.types.task_type import TaskType
from quality.types.text import maths, shape

TYPE = TaskType(
    golden_score_name="mean similarity",
    name="text",
    title="Free text",
    summary="Workers type a short text: a transcription, a correction, an answer in words.",
    needs_labels=False,
    min_labels=0,
    option_names=("max_length", "golden_similarity", "text_aggregation"),
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
    annotator="types/text/annotator.html",
    keys=(("Enter", "submits"), ("Shift+Enter", "starts a new line")),
    form_answer=lambda form: form.get("answer"),
    option_help={
        "max_length": (
            "Longest answer (characters, free text)",
            "1 to 10,000 characters; 500 unless you say.",
        ),
        "golden_similarity": (
            "Golden match that counts as correct (free text)",
            "0 to 1; 1 asks for the golden text itself, ignoring case, punctuation and spaces.",
        ),
        "text_aggregation": (
            "How answers are combined (free text)",
            "auto, rover (word-by-word vote, for transcriptions) or closest (the answer closest to the others, "
            "for free sentences).",
        ),
    },
)
