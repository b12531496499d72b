"""The pure parts of quality: the skill rule and its sentences, settings that cannot work, the submit-time
estimate and the heat map's colours. No database; every expected number is worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quality.estimate import estimate_dawid_skene, estimate_vote, wawa_weight
from quality.heatmap import heat_cell, heat_rows
from quality.services import min_overlap_for, pool_quality_settings_problem
from quality.skill import skill_figures, skill_reason, skill_verdict
from tasks.models import Pool


def test_skill_is_smoothed_golden_accuracy_and_judged_only_after_min_golden():
    early = skill_verdict(answered=4, correct=0, min_skill=0.7, min_golden=5)
    assert early.skill == pytest.approx(1 / 6)
    assert not early.judged and not early.restrict and early.golden_to_go == 1
    judged = skill_verdict(answered=5, correct=2, min_skill=0.7, min_golden=5)
    assert judged.skill == pytest.approx(3 / 7)  # (2 + 1) / (5 + 2)
    assert judged.judged and judged.restrict
    good = skill_verdict(answered=5, correct=4, min_skill=0.7, min_golden=5)
    assert good.skill == pytest.approx(5 / 7) and not good.restrict  # 0.714 >= 0.7
    assert skill_verdict(answered=0, correct=0, min_skill=0.7, min_golden=5).skill == 0.5


def test_the_reason_shows_the_arithmetic_a_worker_can_check():
    verdict = skill_verdict(answered=6, correct=2, min_skill=0.7, min_golden=5)
    reason = skill_reason(verdict, counted_since=None)
    assert "2 of 6 golden" in reason
    assert "(2 + 1) / (6 + 2) = 0.38" in reason
    assert "minimum of 0.70" in reason and "after 5 golden items" in reason
    assert skill_figures(verdict, counted_since=None) == {
        "golden_answered": 6,
        "golden_correct": 2,
        "skill": 0.375,
        "min_skill": 0.7,
        "min_golden": 5,
        "counted_since": None,
    }
    since = skill_reason(verdict, counted_since="2026-11-20T10:00:00+00:00")
    assert "since your restriction was lifted on 2026-11-20" in since


def test_settings_that_would_restrict_a_perfect_worker_are_refused():
    # One golden item answered correctly gives (1 + 1) / (1 + 2) = 0.67: below 0.7, so everyone would go.
    problem = pool_quality_settings_problem(
        overlap=3, min_skill=0.7, min_golden=1, target_confidence=None, min_overlap=None
    )
    assert problem is not None and problem[0] == "min_skill" and "0.67" in problem[1]
    assert (
        pool_quality_settings_problem(
            overlap=3, min_skill=0.7, min_golden=2, target_confidence=None, min_overlap=None
        )
        is None
    )
    assert pool_quality_settings_problem(
        overlap=3, min_skill=0.7, min_golden=5, target_confidence=None, min_overlap=2
    ) == ("min_overlap", "min_overlap only applies together with target_confidence.")
    assert pool_quality_settings_problem(
        overlap=3, min_skill=0.7, min_golden=5, target_confidence=0.9, min_overlap=4
    ) == ("min_overlap", "min_overlap (4) cannot exceed overlap (3).")


def test_min_overlap_defaults_to_one_and_never_exceeds_overlap():
    assert min_overlap_for(Pool(overlap=5, min_overlap=None)) == 1
    assert min_overlap_for(Pool(overlap=5, min_overlap=3)) == 3
    assert min_overlap_for(Pool(overlap=2, min_overlap=3)) == 2


def test_vote_estimates_break_ties_to_the_first_label():
    assert estimate_vote(label_idx=np.array([1, 1, 0]), n_labels=3) == (1, pytest.approx(2 / 3))
    assert estimate_vote(label_idx=np.array([2, 0]), n_labels=3) == (0, 0.5)
    assert estimate_vote(label_idx=np.array([], dtype=np.int64), n_labels=3) == (-1, 0.0)
    # Wawa: 0.9 for label 1 against 0.5 + 0.2 for label 0.
    label, confidence = estimate_vote(
        label_idx=np.array([1, 0, 0]), n_labels=2, weights=np.array([0.9, 0.5, 0.2])
    )
    assert (label, confidence) == (1, pytest.approx(0.9 / 1.6))
    assert wawa_weight(agreed=8, answers=10) == pytest.approx(0.75)
    assert wawa_weight(agreed=0, answers=0) == 0.5


def test_dawid_skene_estimate_by_hand():
    # Two workers with symmetric confusion: A right 90% of the time, B right 60%. A says 0, B says 1.
    # p(true 0) ∝ 0.5 * 0.9 * 0.4 = 0.18, p(true 1) ∝ 0.5 * 0.1 * 0.6 = 0.03 -> 0.18 / 0.21.
    a = np.array([[0.9, 0.1], [0.1, 0.9]])
    b = np.array([[0.6, 0.4], [0.4, 0.6]])
    label, confidence = estimate_dawid_skene(
        label_idx=np.array([0, 1]), confusion=np.stack([a, b]), class_prior=np.array([0.5, 0.5])
    )
    assert label == 0 and confidence == pytest.approx(0.18 / 0.21)
    # The class prior counts: with p(0) = 0.1 the same answers give 0.018 against 0.027.
    label, confidence = estimate_dawid_skene(
        label_idx=np.array([0, 1]), confusion=np.stack([a, b]), class_prior=np.array([0.1, 0.9])
    )
    assert label == 1 and confidence == pytest.approx(0.027 / 0.045)
    # A worker who never gives a label (zero in the matrix) cannot make the posterior NaN.
    never = np.array([[1.0, 0.0], [1.0, 0.0]])
    label, confidence = estimate_dawid_skene(
        label_idx=np.array([1]), confusion=never[None], class_prior=np.array([0.5, 0.5])
    )
    assert label == 0 and not math.isnan(confidence)
    with pytest.raises(ValueError, match="shape"):
        estimate_dawid_skene(
            label_idx=np.array([0]), confusion=np.stack([a, b]), class_prior=np.array([0.5, 0.5])
        )


def test_heat_map_colours_agreement_green_and_confusion_red():
    rows = heat_rows(labels=["OK", "Bad"], matrix=[[0.9, 0.1], [0.4, 0.6]])
    assert [row.label for row in rows] == ["OK", "Bad"]
    assert [cell.percent for cell in rows[0].cells] == ["90%", "10%"]
    assert rows[0].cells[0].css_class == "heat-agree heat-9"  # diagonal: green, nearly solid
    assert rows[1].cells[0].css_class == "heat-confuse heat-4"  # off the diagonal: red
    assert heat_cell(value=0.0, diagonal=False).step == 0
    assert heat_cell(value=1.7, diagonal=True).value == 1.0
    with pytest.raises(ValueError):
        heat_rows(labels=["OK", "Bad"], matrix=[[1.0]])
