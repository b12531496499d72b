from quality.types.single_choice import maths, shape
from quality.types.task_type import TaskType

TYPE = TaskType(
    golden_score_name="share correct",
    name="single_choice",
    title="One label",
    summary="Workers choose one label from your list.",
    needs_labels=True,
    min_labels=2,
    option_names=(),
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
    annotator="types/single_choice/annotator.html",
    keys=(("Keys 1\u20139", "choose a label"), ("S", "skips")),
    form_answer=lambda form: form.get("label"),
)
