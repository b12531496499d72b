"""The declaration a task type's folder makes: its shape, its maths and its annotator, under one name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from quality.types.base import TypeResults


@dataclass(frozen=True)
class TaskType:
    name: str  # what the API takes as "task_type"
    title: str  # for people: the pool form, the pool page
    summary: str
    needs_labels: bool  # `labels` required (the choices, or the classes of boxes)
    min_labels: int
    # The pool options the type takes, as the API names them (POST /pools/ and the pool's JSON).
    option_names: tuple[str, ...]
    options_clean: Callable[[Mapping[str, Any]], dict[str, Any]]
    data_problem: Callable[..., str | None]
    answer_parse: Callable[..., str]
    golden_parse: Callable[..., str]
    answer_value: Callable[[str], Any]
    # A result's answer as a Label Studio annotation's "result" list (the results export, format=label-studio).
    label_studio_result: Callable[[Any], list[dict[str, Any]]]
    golden_score: Callable[..., float]
    golden_correct: Callable[..., bool]
    aggregate: Callable[..., TypeResults]
    # Task data fields the aggregation reads (TypeAnswers.task_data), loaded only where a type names some.
    data_fields: tuple[str, ...]
    # The annotator fragment (a template name) and its keyboard map, shown beside the task: (keys, action).
    annotator: str
    keys: tuple[tuple[str, str], ...]
    # Reads the annotator form's fields into the raw answer that answer_parse takes.
    form_answer: Callable[[Any], Any]  # a QueryDict
    # The task data fields the annotator fragment shows itself (as `annotator_data`), left out of the plain list.
    annotator_fields: Callable[[Mapping[str, Any]], tuple[str, ...]] = lambda options: ()
    # For the pool form: each option's label and help for a person, by option name.
    option_help: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Whether aggregate gives TypeResults.label_confidence, which results then carry as `label_confidence`.
    per_label_confidence: bool = False
    # One task's result from its own answers at submit time (dynamic overlap), where `aggregate` run on that
    # task alone would mislead; None: `aggregate` is used. Same arguments and result as `aggregate`.
    estimate_alone: Callable[..., TypeResults] | None = None
    # The answer's shape in typed exports (Parquet): "text" one string, "texts" a list of strings, "records"
    # anything richer (boxes), which goes out as its JSON text as in CSV.
    export_shape: str = "text"
    # What golden_score measures, for the staff pages ("mean F1").
    golden_score_name: str = "mean golden score"
