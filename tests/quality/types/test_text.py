"""The text type: the answer's shape, normalising and golden similarity, aggregation by ROVER or by the closest
answer, with crowd-kit's ROVER as the reference on synthetic transcriptions.

No database. crowd-kit is imported only inside the tests that use it as a reference.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from quality.types.base import AnswerProblem, TypeAnswers, TypeResults
from quality.types.text import maths, shape

OPTIONS = shape.options_clean({})


def parse(raw: Any, **options: Any) -> str:
    return shape.answer_parse(raw, labels=[], options=shape.options_clean(options))


def run(
    answers: list[tuple[int, int, str]],
    *,
    n_tasks: int,
    n_workers: int = 10,
    golden: dict[int, str] | None = None,
    method: str = "auto",
) -> TypeResults:
    return maths.aggregate(
        TypeAnswers(
            task=np.array([a[0] for a in answers], dtype=np.int64),
            worker=np.array([a[1] for a in answers], dtype=np.int64),
            values=[a[2] for a in answers],
            n_tasks=n_tasks,
            n_workers=n_workers,
            golden=golden or {},
        ),
        labels=[],
        options=shape.options_clean({"text_aggregation": method}),
    )


# --- options ---------------------------------------------------------------------------------


def test_options_defaults_and_accepted_values() -> None:
    assert OPTIONS == {"max_length": 500, "golden_similarity": 1.0, "text_aggregation": "auto"}
    assert shape.options_clean({"max_length": 1})["max_length"] == 1
    assert shape.options_clean({"max_length": 10_000})["max_length"] == 10_000
    assert shape.options_clean({"golden_similarity": 1})["golden_similarity"] == 1.0
    assert shape.options_clean({"golden_similarity": 0.8})["golden_similarity"] == 0.8
    for method in ("auto", "rover", "closest"):
        assert shape.options_clean({"text_aggregation": method})["text_aggregation"] == method


@pytest.mark.parametrize("value", [0, -1, 10_001, 1_000_000])
def test_max_length_must_be_in_range(value: int) -> None:
    with pytest.raises(AnswerProblem, match=f"max_length must be from 1 to 10000 characters, got {value}"):
        shape.options_clean({"max_length": value})


@pytest.mark.parametrize("value", ["500", 500.0, True, None, [500]])
def test_max_length_must_be_a_whole_number(value: Any) -> None:
    with pytest.raises(AnswerProblem, match="max_length must be a whole number of characters"):
        shape.options_clean({"max_length": value})


@pytest.mark.parametrize("value", ["0.8", True, None, float("nan"), float("inf")])
def test_golden_similarity_must_be_a_number(value: Any) -> None:
    with pytest.raises(AnswerProblem, match="golden_similarity must be a number"):
        shape.options_clean({"golden_similarity": value})


@pytest.mark.parametrize("value", [0, 0.0, -0.5, 1.01, 2])
def test_golden_similarity_must_be_in_range(value: Any) -> None:
    with pytest.raises(AnswerProblem, match="golden_similarity must be more than 0 and at most 1"):
        shape.options_clean({"golden_similarity": value})


def test_text_aggregation_must_be_a_known_method() -> None:
    with pytest.raises(
        AnswerProblem, match="text_aggregation must be one of auto, rover, closest, got 'vote'"
    ):
        shape.options_clean({"text_aggregation": "vote"})


def test_data_is_not_checked() -> None:
    assert shape.data_problem({"audio": "x"}, options=OPTIONS) is None


# --- answer shapes ---------------------------------------------------------------------------


def test_answer_is_trimmed_and_otherwise_kept_as_typed() -> None:
    assert parse("  Main street 5 \n") == "Main street 5"
    assert parse("Line one\nline two") == "Line one\nline two"
    assert parse("a  ,  B\tc") == "a  ,  B\tc"
    assert shape.answer_value("Line one\nline two") == "Line one\nline two"


@pytest.mark.parametrize("raw", ["", "   ", "\n\t "])
def test_empty_answer_is_refused(raw: str) -> None:
    with pytest.raises(AnswerProblem, match="the answer is empty; type the text"):
        parse(raw)


def test_length_limit_counts_characters_after_trimming() -> None:
    assert parse("  " + "é" * 20 + "  ", max_length=20) == "é" * 20
    with pytest.raises(AnswerProblem, match="the answer must be at most 20 characters long, got 21"):
        parse("x" * 21, max_length=20)
    with pytest.raises(AnswerProblem, match="at most 500 characters long, got 501"):
        parse("x" * 501)  # the default


@pytest.mark.parametrize("raw", [None, 5, 1.5, True, ["a"], {"text": "a"}])
def test_answer_must_be_text(raw: Any) -> None:
    with pytest.raises(AnswerProblem, match="the answer must be text, got"):
        parse(raw)


def test_answer_must_not_hold_nul_or_a_broken_character() -> None:
    with pytest.raises(AnswerProblem, match="must not hold a NUL character"):
        parse("ab\x00c")
    with pytest.raises(AnswerProblem, match="broken character"):
        parse("ab\ud800c")


def test_golden_answers_are_checked_the_same_way_and_say_so() -> None:
    options = shape.options_clean({"max_length": 5})
    assert shape.golden_parse(" Oak 5 ", labels=[], options=options) == "Oak 5"
    with pytest.raises(AnswerProblem, match="the golden answer is empty"):
        shape.golden_parse("", labels=[], options=options)
    with pytest.raises(AnswerProblem, match="the golden answer must be at most 5 characters long, got 6"):
        shape.golden_parse("Oak 55", labels=[], options=options)
    with pytest.raises(AnswerProblem, match="the golden answer must be text"):
        shape.golden_parse(5, labels=[], options=options)


# --- normalising and golden scoring ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The CAT", "the cat"),
        ("Straße", "strasse"),  # case folded, not just lowered
        ("  a \t\n  b  ", "a b"),
        ("Hello, world!", "hello world"),
        ("don't  stop -- now...", "dont stop now"),
        ("¿Qué?", "qué"),
        ("「東京」。", "東京"),
        ("ﬁne", "fine"),  # NFKC: the ligature is two letters
        ("\uff21\uff22\uff23\u3000\uff11\uff12", "abc 12"),  # NFKC: full-width letters, digits and space
        ("5 $ + 3", "5 $ + 3"),  # symbols are not punctuation
        ("...", ""),
    ],
)
def test_normalise(text: str, normal: str) -> None:
    assert maths.normalise(text) == normal


def test_golden_score_is_one_for_texts_equal_after_normalising() -> None:
    assert maths.golden_score("The cat, sat.", "the  CAT sat", options=OPTIONS) == 1.0
    assert maths.golden_correct(1.0, options=OPTIONS)


@pytest.mark.parametrize(
    ("answer", "score"),
    [("strawbery", 0.9), ("Strawberrx", 0.9), ("strawbarrx", 0.8), ("strowbarrx", 0.7), ("banana", 0.1)],
)
def test_golden_score_is_edit_similarity(answer: str, score: float) -> None:
    assert maths.golden_score(answer, "strawberry", options=OPTIONS) == pytest.approx(score)


def test_golden_similarity_decides_what_counts_as_correct() -> None:
    exact, lenient = OPTIONS, shape.options_clean({"golden_similarity": 0.8})

    def correct(answer: str, options: dict[str, Any]) -> bool:
        return maths.golden_correct(
            maths.golden_score(answer, "Strawberry", options=options), options=options
        )

    assert correct("strawberry!", exact)
    assert not correct("strawbery", exact)  # one letter off
    assert correct("strawbery", lenient)
    assert correct("strawbarrx", lenient)  # two of ten letters: exactly 0.8 counts
    assert not correct("strowbarrx", lenient)


# --- aggregation on hand-made cases ----------------------------------------------------------


def test_single_and_unanimous_answers_come_back_exactly_as_typed() -> None:
    for method in ("auto", "rover", "closest"):
        result = run(
            [(0, 0, "Line one\nline two"), *[(1, w, "Main  St.\n5") for w in range(3)]],
            n_tasks=2,
            method=method,
        )
        assert result.answers == ["Line one\nline two", "Main  St.\n5"], method
        np.testing.assert_array_equal(result.confidence, [1.0, 1.0])


def test_result_is_the_spelling_most_workers_typed() -> None:
    answers = [
        (0, 0, "main st"),
        (0, 1, "Main St."),
        (0, 2, "MAIN  ST"),
        (0, 3, "Main St."),
        (0, 4, "Main Street"),
    ]
    for method in ("rover", "closest"):
        result = run(answers, n_tasks=1, method=method)
        assert result.answers == ["Main St."], method
        assert result.confidence[0] == pytest.approx(0.8)  # four of five agree after normalising


def test_even_spellings_go_to_the_earliest_worker() -> None:
    result = run([(0, 7, "Oak road"), (0, 2, "oak Road."), (0, 5, "Elm road")], n_tasks=1, method="rover")
    assert result.answers == ["oak Road."]
    assert result.confidence[0] == pytest.approx(2 / 3)


def test_rover_votes_word_by_word() -> None:
    # Three answers have one word wrong each, a different one: the vote puts the right words together.
    answers = [
        (0, 0, "the red car stops here"),
        (0, 1, "the rod car stops here."),
        (0, 2, "the red cat stops"),
        (0, 3, "a red car stops here."),
    ]
    result = run(answers, n_tasks=1, method="rover")
    assert result.answers == ["the red car stops here"]
    assert result.confidence[0] == pytest.approx(0.25)  # worker 0's answer alone ("a" is not "the")
    stitched = run(answers[1:], n_tasks=1, method="rover")
    assert stitched.answers == ["the red car stops here."]  # nobody wrote it; the slot keeps its "here."
    assert stitched.confidence[0] == 0.0


def test_closest_picks_the_answer_most_similar_to_the_others() -> None:
    answers = [
        (0, 0, "kitten sittinx"),
        (0, 1, "kittex sitting"),
        (0, 2, "xitten sitting"),
        (0, 3, "Kitten sitting"),  # one letter from each of the others, which are two apart from each other
        (1, 5, "a cat on the mat"),
        (1, 2, "a cat on a mat"),  # two answers are always as close to each other
    ]
    result = run(answers, n_tasks=2, method="closest")
    assert result.answers == ["Kitten sitting", "a cat on a mat"]  # an even score: the earliest worker


def test_auto_merges_short_answers_and_picks_among_long_ones() -> None:
    def answers(n_words: int) -> tuple[str, list[tuple[int, int, str]]]:
        truth = [f"w{i}" for i in range(n_words)]
        noisy = []
        for w, wrong in enumerate((0, n_words // 2, n_words - 1)):
            words = list(truth)
            words[wrong] = "oops"
            noisy.append((0, w, " ".join(words)))
        return " ".join(truth), noisy

    short_truth, short = answers(maths.SHORT_WORDS)
    assert run(short, n_tasks=1).answers == [short_truth]  # as rover
    long_truth, long = answers(maths.SHORT_WORDS + 1)
    assert run(long, n_tasks=1, method="rover").answers == [long_truth]
    assert run(long, n_tasks=1).answers == run(long, n_tasks=1, method="closest").answers
    assert run(long, n_tasks=1).answers[0] in {text for _, _, text in long}
    # The median answer decides: one long answer among short ones does not switch the task.
    mixed = [*short[:2], (0, 2, " ".join(["x"] * 40))]
    assert run(mixed, n_tasks=1).answers == run(mixed, n_tasks=1, method="rover").answers


def test_answers_that_normalise_to_nothing_still_give_an_answer() -> None:
    result = run([(0, 0, "..."), (0, 1, "!!"), (0, 2, "ok")], n_tasks=1, method="rover")
    assert result.answers == ["..."]
    assert result.confidence[0] == pytest.approx(2 / 3)


def test_golden_tasks_get_their_golden_text_and_change_nothing_else() -> None:
    answers = [
        (0, 0, "oak road"),
        (0, 1, "elm road"),
        (1, 0, "red car"),
        (1, 1, "red car"),
        (1, 2, "rod car"),
    ]
    plain = run(answers, n_tasks=3, n_workers=3)
    result = run(answers, n_tasks=3, n_workers=3, golden={0: "Ash Road\n1", 2: "Birch"})
    assert result.answers == ["Ash Road\n1", "red car", "Birch"]
    np.testing.assert_array_equal(result.confidence[[0, 2]], [1.0, 1.0])
    assert result.answers[1] == plain.answers[1] and result.confidence[1] == plain.confidence[1]
    # Worker 0 is scored against the golden text on task 0: "oak road" against "ash road 1".
    expected = (Levenshtein.normalized_similarity("oak road", "ash road 1") + 1.0) / 2
    assert result.worker_score[0] == pytest.approx(expected)


def test_tasks_without_answers_give_none_and_zero() -> None:
    result = run([(1, 0, "hello")], n_tasks=3, n_workers=2)
    assert result.answers == [None, "hello", None]
    np.testing.assert_array_equal(result.confidence, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(result.worker_score, [1.0, 0.0])  # worker 1 answered nothing
    empty = run([], n_tasks=2, n_workers=1)
    assert empty.answers == [None, None]
    np.testing.assert_array_equal(empty.confidence, [0.0, 0.0])


# --- synthetic transcriptions against crowd-kit ----------------------------------------------

VOCABULARY = [
    *("the", "a", "of", "to", "and", "in", "is", "it", "on", "for", "was", "with", "he", "she", "they", "at"),
    *("by", "from", "red", "blue", "green", "house", "tree", "car", "dog", "cat", "runs", "walks", "fast"),
    *("slow", "old", "new", "big", "small", "street", "road", "main", "park", "river", "window", "door"),
]


def transcriptions(
    seed: int, *, n_tasks: int = 300, overlap: int = 5, error: float = 0.15
) -> tuple[list[tuple[int, int, str]], list[list[str]]]:
    """True sentences of 3 to 8 words; each of a task's workers (drawn from 40) deletes, substitutes or
    inserts words, each with probability error / 3 per word, and sometimes capitalises the first word or ends
    with a full stop (which normalising ignores)."""
    rng = np.random.default_rng(seed)
    answers, truth = [], []
    for t in range(n_tasks):
        words = [str(w) for w in rng.choice(VOCABULARY, int(rng.integers(3, 9)))]
        truth.append(words)
        for worker in rng.choice(40, overlap, replace=False).tolist():
            typed: list[str] = []
            for word in words:
                roll = rng.random()
                if roll >= error / 3:  # not deleted
                    typed.append(str(rng.choice(VOCABULARY)) if roll < 2 * error / 3 else word)
                if rng.random() < error / 3:
                    typed.append(str(rng.choice(VOCABULARY)))
            typed = typed or [str(rng.choice(VOCABULARY))]
            if rng.random() < 0.3:
                typed[0] = typed[0].capitalize()
            text = " ".join(typed) + ("." if rng.random() < 0.3 else "")
            answers.append((t, worker, text))
    return answers, truth


def word_accuracy(results: list[str], truth: list[list[str]]) -> float:
    """1 - word error rate: word edits from the truth over the truth's words, all tasks together."""
    edits = sum(
        Levenshtein.distance(maths.normalise(r).split(), t) for r, t in zip(results, truth, strict=True)
    )
    return 1 - edits / sum(map(len, truth))


def crowdkit_rover(answers: list[tuple[int, int, str]]) -> list[str]:
    """crowd-kit's ROVER on the normalised texts (it votes on tokens as given), in the order given."""
    import pandas as pd
    from crowdkit.aggregation import ROVER

    frame = pd.DataFrame(
        [(t, w, maths.normalise(x)) for t, w, x in answers], columns=["task", "worker", "text"]
    )
    texts = ROVER(tokenizer=lambda s: s.split(" "), detokenizer=" ".join).fit_predict(frame)
    return [str(texts[t]) for t in sorted(texts.index)]


def closest_first(answers: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The order our ROVER aligns in: each task's answer with the highest total similarity to the others
    (ties to the earliest), then the rest in (task, worker) order; written here without our code."""
    ordered: list[tuple[int, int, str]] = []
    tasks: dict[int, list[tuple[int, int, str]]] = {}
    for answer in sorted(answers):
        tasks.setdefault(answer[0], []).append(answer)
    for group in tasks.values():
        normal = [maths.normalise(text) for _, _, text in group]
        totals = [
            round(sum(Levenshtein.normalized_similarity(a, b) for j, b in enumerate(normal) if j != i), 9)
            for i, a in enumerate(normal)
        ]
        best = totals.index(max(totals))
        ordered += [group[best], *group[:best], *group[best + 1 :]]
    return ordered


def test_rover_gives_crowdkits_words_on_the_same_answers_in_the_same_order() -> None:
    answers, truth = transcriptions(21)
    ours = run(answers, n_tasks=len(truth), n_workers=40, method="rover").answers
    theirs = crowdkit_rover(closest_first(answers))
    differ = [t for t in range(len(truth)) if maths.normalise(ours[t]) != theirs[t]]
    assert differ == []


def test_rover_word_accuracy_matches_crowdkit_and_beats_a_single_worker() -> None:
    answers, truth = transcriptions(22)
    ours = word_accuracy(run(answers, n_tasks=len(truth), n_workers=40, method="rover").answers, truth)
    auto = word_accuracy(run(answers, n_tasks=len(truth), n_workers=40).answers, truth)
    theirs = word_accuracy(
        crowdkit_rover(sorted(answers)), truth
    )  # crowd-kit as it is used: answers in order
    single = 1 - sum(Levenshtein.distance(maths.normalise(x).split(), truth[t]) for t, _, x in answers) / sum(
        len(truth[t]) for t, _, _ in answers
    )
    assert ours >= theirs - 0.005
    assert auto == ours  # 3 to 8 words: auto merges
    assert theirs > single + 0.1 and ours > single + 0.1
    closest = word_accuracy(run(answers, n_tasks=len(truth), n_workers=40, method="closest").answers, truth)
    assert single < closest < ours  # choosing a whole answer helps, voting word by word more


def test_answer_order_does_not_change_the_output() -> None:
    answers, truth = transcriptions(23, n_tasks=200)
    # A worker answering a task twice, so ties in (task, worker) need breaking too.
    answers += [(0, answers[0][1], "the one"), (0, answers[0][1], "The other.")]
    golden = {t: " ".join(truth[t]) for t in range(0, 200, 9)}
    for method in ("auto", "rover", "closest"):
        reference = run(answers, n_tasks=200, n_workers=40, golden=golden, method=method)
        order = np.random.default_rng(4).permutation(len(answers))
        shuffled = run(
            [answers[i] for i in order],
            n_tasks=200,
            n_workers=40,
            golden=dict(reversed(list(golden.items()))),
            method=method,
        )
        assert shuffled.answers == reference.answers, method
        np.testing.assert_array_equal(shuffled.confidence, reference.confidence)  # bit for bit
        np.testing.assert_array_equal(shuffled.worker_score, reference.worker_score)


def test_confidence_is_the_share_of_answers_equal_to_the_result_after_normalising() -> None:
    answers, _ = transcriptions(24, n_tasks=100)
    result = run(answers, n_tasks=100, n_workers=40)
    for t in range(100):
        given = [maths.normalise(x) for task, _, x in answers if task == t]
        assert result.confidence[t] == pytest.approx(
            given.count(maths.normalise(result.answers[t])) / len(given)
        )
    assert result.confidence.min() < 0.5 < result.confidence.max()  # neither all agreed nor all apart


def test_results_are_json_ready() -> None:
    result = run([(0, 0, "Zürich\n2"), (1, 0, "x")], n_tasks=3, n_workers=1, golden={2: "g"})
    assert json.loads(json.dumps(result.answers)) == result.answers
