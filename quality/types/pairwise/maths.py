"""Golden scoring by equality; aggregation into a choice per task and a ranking of the compared items.

Per task: the majority of its answers, confidence = the share of its answers that agree. When choices tie in
the vote, the item model decides: the side whose item it scores higher, then "tie", then the other side (with
equal scores: "tie", "left", "right"), so a tie never goes by the order of the input.

Per item: a Bradley-Terry model, P(i preferred over j) = p_i / (p_i + p_j), fitted to every answer: a "tie"
answer counts as half a win for each item (crowd-kit takes only a winner, so it has no way to say tie). A
golden task counts as its golden answer, once for each answer it had, so the ranking agrees with the known
truth. Each item also has one drawn game against a reference item of strength 1 (a prior): this keeps the
strength of an item that won or lost every comparison finite, joins comparison graphs that fall apart into
pieces, and pulls items seen a few times towards the middle. An item's ``score`` is p / (1 + p), its modelled
chance of being preferred over that reference (0.5); its ``rank`` counts from 1 = best, equal scores by item key.

``pairwise_model = "noisy_bt"`` is crowd-kit's NoisyBradleyTerry model: each worker answers by the items'
strengths with probability ``skill`` and otherwise picks left with probability ``bias``, so careless or
side-biased workers weigh less. On golden tasks a worker who follows the strengths gives the golden answer,
which is what anchors the skills.

Both are written by hand over integer-coded arrays rather than called from crowd-kit (1.4.2):

* crowd-kit's BradleyTerry builds dense n_items x n_items matrices (20,000 items: 3.2 GB each, several of
  them), and its stop test compares the new strengths with an alias of themselves (``p_old = p_new``, then
  ``p_new`` is updated in place), so with any ``tol`` above 0 it stops after its second MM step from equal
  strengths, far from the maximum likelihood;
* crowd-kit's NoisyBradleyTerry computes its gradient in a Python loop over the answers (about 0.17 s per
  evaluation for 15,000 answers on these machines, so about 11 s per evaluation for a million), and that
  gradient is wrong: the worker terms are assigned (``=``) instead of added, one slot below their parameter
  (each worker's bias term lands on the previous worker's bias, the first worker's on the last item's
  score), so L-BFGS-B follows a wrong direction and stops early.

Here Bradley-Terry is fitted by Newton's method (each step solved by conjugate gradients), which reaches
the same maximum as Hunter's MM algorithm in a handful of steps, and NoisyBradleyTerry by EM: the E-step is
each answer's probability of having been given by the strengths, the M-step closed forms for skill and bias
and a weighted Bradley-Terry fit for the strengths. crowd-kit stays the reference in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from quality.types.base import FloatArray, IntArray, TypeAnswers, TypeResults
from quality.types.pairwise.shape import SIDES, TIE, item_key

CHOICES: Final = (*SIDES, TIE)  # choice codes: 0 = left, 1 = right, 2 = tie
_LEFT, _RIGHT, _TIE = 0, 1, 2
LEFT_SHARE: Final = np.array([1.0, 0.0, 0.5])  # the left item's share of a win, by choice code

PRIOR_GAMES: Final = 1.0  # drawn games of every item against the reference item of strength 1
BT_TOL: Final = 1e-9  # stop Newton when no log-strength moves by more than this
NEWTON_MAX_STEPS: Final = 100
NEWTON_MIN_STEP: Final = 1.0 / 1024
CG_TOL: Final = 1e-8  # solve each Newton step to this share of the gradient's norm
CG_MAX_STEPS: Final = 1_000
# noisy_bt: pseudo-answers in each worker's skill (followed the strengths / did not) and bias (left / right),
# so a worker seen a few times is neither perfect nor useless.
SKILL_PSEUDO_FOLLOWED: Final = 2.0
SKILL_PSEUDO_IGNORED: Final = 1.0
BIAS_PSEUDO: Final = 1.0
SKILL_START: Final = 0.8
EM_TOL: Final = 1e-7  # stop when the objective rises by less than this per answer
EM_MAX_ITERATIONS: Final = 200
EM_NEWTON_STEPS: Final = 1  # Newton steps on the strengths per EM iteration
SCORE_DIGITS: Final = 9


def golden_score(answer: Any, golden: Any, *, options: Mapping[str, Any]) -> float:
    return 1.0 if answer == golden else 0.0


def golden_correct(score: float, *, options: Mapping[str, Any]) -> bool:
    return score == 1.0


@dataclass(frozen=True)
class Pairs:
    """Weighted comparisons summed per unordered pair of items (a < b)."""

    a: IntArray
    b: IntArray
    wins_a: FloatArray
    wins_b: FloatArray


def pair_index(left: IntArray, right: IntArray, *, n_items: int) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct unordered pairs (a < b, sorted) among the comparisons, and each comparison's pair."""
    low, high = np.minimum(left, right), np.maximum(left, right)
    codes, inverse = np.unique(low * n_items + high, return_inverse=True)
    return codes // n_items, codes % n_items, inverse.reshape(-1)


def pair_sums(
    *,
    a: IntArray,
    b: IntArray,
    inverse: IntArray,
    left: IntArray,
    left_wins: FloatArray,
    right_wins: FloatArray,
) -> Pairs:
    """Each comparison's wins (by side) added up per pair, turned to the pair's own order."""
    left_is_a = left == a[inverse]
    wins_a = np.where(left_is_a, left_wins, right_wins)
    wins_b = np.where(left_is_a, right_wins, left_wins)
    return Pairs(
        a=a,
        b=b,
        wins_a=np.bincount(inverse, weights=wins_a, minlength=a.size).astype(np.float64),
        wins_b=np.bincount(inverse, weights=wins_b, minlength=a.size).astype(np.float64),
    )


def bradley_terry(
    pairs: Pairs,
    *,
    n_items: int,
    start: FloatArray | None = None,
    tol: float = BT_TOL,
    max_steps: int = NEWTON_MAX_STEPS,
) -> FloatArray:
    """Log-strengths maximising the Bradley-Terry log-likelihood of ``pairs`` plus the reference-item prior,
    to within ``tol`` in every log-strength.

    The log-likelihood is concave in the log-strengths and its Hessian is a weighted graph Laplacian plus the
    prior's diagonal, so Newton's method with each step solved by conjugate gradients (preconditioned by the
    diagonal) converges in a handful of steps, where MM iterations (Hunter's, crowd-kit's) each gain little
    once near the maximum. An item with no comparisons gets 0.
    """
    a, b, wins_a = pairs.a, pairs.b, pairs.wins_a
    games = wins_a + pairs.wins_b
    theta = np.zeros(n_items) if start is None else start.copy()
    objective = _bt_objective(theta, pairs)
    for _ in range(max_steps):
        s = _sigmoid(theta[a] - theta[b])
        s_prior = _sigmoid(theta)
        surplus = wins_a - games * s  # observed minus expected wins of a
        # Not in place: with no comparisons bincount returns integers.
        gradient = (
            np.bincount(a, surplus, n_items)
            - np.bincount(b, surplus, n_items)
            + PRIOR_GAMES * (0.5 - s_prior)
        )
        step = _solve_newton(
            a=a,
            b=b,
            curvature=games * s * (1.0 - s),
            prior_curvature=PRIOR_GAMES * s_prior * (1.0 - s_prior),
            rhs=gradient,
        )
        if float(np.max(np.abs(step), initial=0.0)) < tol:
            return theta + step  # close enough that Newton's step is exact to rounding
        # Halve the step while it lowers the objective: Newton can overshoot from far away.
        size = 1.0
        while size >= NEWTON_MIN_STEP:
            candidate = theta + size * step
            new_objective = _bt_objective(candidate, pairs)
            if new_objective >= objective:
                break
            size /= 2.0
        else:
            break  # no step raises the objective: at the maximum to rounding
        theta, objective = candidate, new_objective
    return theta


def _bt_objective(theta: FloatArray, pairs: Pairs) -> float:
    """Log-likelihood of ``pairs`` under log-strengths ``theta``, plus the reference-item prior."""
    d = theta[pairs.a] - theta[pairs.b]
    log_won_a, log_won_b = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
    log_prior = -np.logaddexp(0.0, -theta) - np.logaddexp(0.0, theta)
    return float(
        np.dot(pairs.wins_a, log_won_a)
        + np.dot(pairs.wins_b, log_won_b)
        + PRIOR_GAMES / 2.0 * log_prior.sum()
    )


def _solve_newton(
    *, a: IntArray, b: IntArray, curvature: FloatArray, prior_curvature: FloatArray, rhs: FloatArray
) -> FloatArray:
    """x with H x = rhs, H = sum over pairs of curvature (e_a - e_b)(e_a - e_b)^T + diag(prior_curvature) (minus
    the Hessian): conjugate gradients preconditioned by H's diagonal."""
    n = rhs.size
    diagonal = np.bincount(a, curvature, n) + np.bincount(b, curvature, n) + prior_curvature
    x = np.zeros(n)
    residual = rhs.copy()
    goal = CG_TOL * float(np.linalg.norm(rhs))
    z = residual / diagonal
    direction = z.copy()
    rz = float(np.dot(residual, z))
    for _ in range(CG_MAX_STEPS):
        if float(np.linalg.norm(residual)) <= goal:
            break
        flow = curvature * (direction[a] - direction[b])
        h_direction = np.bincount(a, flow, n) - np.bincount(b, flow, n) + prior_curvature * direction
        alpha = rz / float(np.dot(direction, h_direction))
        x += alpha * direction
        residual -= alpha * h_direction
        z = residual / diagonal
        rz_new = float(np.dot(residual, z))
        direction = z + (rz_new / rz) * direction
        rz = rz_new
    return x


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


def noisy_bradley_terry(
    *,
    left: IntArray,
    right: IntArray,
    worker: IntArray,
    choice: IntArray,
    golden_choice: IntArray,
    n_items: int,
    n_workers: int,
) -> FloatArray:
    """Log-strengths under crowd-kit's NoisyBradleyTerry model, by EM.

    One element per answer (in a fixed order, so the float sums are the same for any input order);
    ``golden_choice`` is the golden choice code of the answer's task, -1 where it is not golden. Golden answers
    count as comparisons once per answer, as in the plain model. Stops when the objective (log-likelihood plus
    log-priors), which EM never lowers, rises by less than EM_TOL per answer.
    """
    # A tie answer is half an answer for each side; the zero halves of the others weigh nothing.
    share = LEFT_SHARE[choice]
    is_golden = golden_choice >= 0
    golden_share = LEFT_SHARE[np.maximum(golden_choice, 0)]
    free = np.where(is_golden, 0.0, 1.0)
    a, b, inverse = pair_index(left, right, n_items=n_items)
    golden_pairs = pair_sums(
        a=a,
        b=b,
        inverse=inverse,
        left=left,
        left_wins=np.where(is_golden, golden_share, 0.0),
        right_wins=np.where(is_golden, 1.0 - golden_share, 0.0),
    )
    answered = np.bincount(worker, minlength=n_workers).astype(np.float64)
    lefts = np.bincount(worker, weights=share, minlength=n_workers)

    theta = bradley_terry(
        pair_sums(a=a, b=b, inverse=inverse, left=left, left_wins=share, right_wins=1.0 - share),
        n_items=n_items,
    )
    skill = np.full(n_workers, SKILL_START)
    bias = (lefts + BIAS_PSEUDO) / (answered + 2.0 * BIAS_PSEUDO)
    objective = -np.inf
    for _ in range(EM_MAX_ITERATIONS):
        # E-step: for each half of an answer (left wins, right wins), its chance and the share of it that
        # came from following the strengths; on golden tasks following the strengths gives the golden answer.
        strength_left = np.where(is_golden, golden_share, _sigmoid(theta[left] - theta[right]))
        s, q = skill[worker], bias[worker]
        followed_left, followed_right = s * strength_left, s * (1.0 - strength_left)
        chance_left = followed_left + (1.0 - s) * q
        chance_right = followed_right + (1.0 - s) * (1.0 - q)
        r_left, r_right = followed_left / chance_left, followed_right / chance_right
        new_objective = (
            float(np.dot(share, np.log(chance_left)) + np.dot(1.0 - share, np.log(chance_right)))
            + _bt_objective(theta, golden_pairs)
            + float(
                SKILL_PSEUDO_FOLLOWED * np.log(skill).sum() + SKILL_PSEUDO_IGNORED * np.log1p(-skill).sum()
            )
            + BIAS_PSEUDO * float(np.log(bias).sum() + np.log1p(-bias).sum())
        )
        if new_objective - objective < EM_TOL * choice.size:
            break
        objective = new_objective
        # M-step: skill and bias in closed form, strengths by a Bradley-Terry fit of the followed shares.
        followed = share * r_left + (1.0 - share) * r_right
        ignored_left = share * (1.0 - r_left)
        skill = (np.bincount(worker, weights=followed, minlength=n_workers) + SKILL_PSEUDO_FOLLOWED) / (
            answered + SKILL_PSEUDO_FOLLOWED + SKILL_PSEUDO_IGNORED
        )
        bias = (np.bincount(worker, weights=ignored_left, minlength=n_workers) + BIAS_PSEUDO) / (
            answered - np.bincount(worker, weights=followed, minlength=n_workers) + 2.0 * BIAS_PSEUDO
        )
        followed_pairs = pair_sums(
            a=a,
            b=b,
            inverse=inverse,
            left=left,
            left_wins=free * share * r_left,
            right_wins=free * (1.0 - share) * r_right,
        )
        theta = bradley_terry(
            Pairs(
                a=a,
                b=b,
                wins_a=followed_pairs.wins_a + golden_pairs.wins_a,
                wins_b=followed_pairs.wins_b + golden_pairs.wins_b,
            ),
            n_items=n_items,
            start=theta,
            max_steps=EM_NEWTON_STEPS,
        )
    return theta


def _task_items(answers: TypeAnswers) -> tuple[IntArray, IntArray, list[str], list[Any]]:
    """Each task's left and right item codes, the item keys in code order (sorted, so the codes do not
    depend on the order of the tasks) and each item's value as the first task carrying it has it."""
    if answers.task_data is None or len(answers.task_data) != answers.n_tasks:
        raise ValueError("pairwise aggregation needs every task's data (its left and right items)")
    value_of: dict[str, Any] = {}
    left_keys: list[str] = []
    right_keys: list[str] = []
    text_keys: dict[str, str] = {}  # most items are strings, each in many tasks: their keys made once
    for data in answers.task_data:
        for side, side_keys in (("left", left_keys), ("right", right_keys)):
            value = data.get(side)
            if isinstance(value, str):
                key = text_keys.get(value) or text_keys.setdefault(value, item_key(value))
            else:
                key = item_key(value)
            value_of.setdefault(key, value)
            side_keys.append(key)
    keys = sorted(value_of)
    code = {key: i for i, key in enumerate(keys)}
    n = answers.n_tasks
    left = np.fromiter((code[key] for key in left_keys), np.int64, n)
    right = np.fromiter((code[key] for key in right_keys), np.int64, n)
    return left, right, keys, [value_of[key] for key in keys]


def aggregate(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    n_tasks, n_workers = answers.n_tasks, answers.n_workers
    task_left, task_right, keys, values = _task_items(answers)
    n_items = len(keys)
    code = {choice: i for i, choice in enumerate(CHOICES)}
    task = np.asarray(answers.task, np.int64)
    worker = np.asarray(answers.worker, np.int64)
    choice = np.fromiter((code[value] for value in answers.values), np.int64, len(answers.values))
    # One canonical order (task, worker, choice), so that the float sums do not depend on the input order.
    order = np.lexsort((choice, worker, task))
    task, worker, choice = task[order], worker[order], choice[order]

    golden_task = np.fromiter(answers.golden.keys(), np.int64, len(answers.golden))
    golden_of_task = np.full(n_tasks, -1, dtype=np.int64)
    golden_of_task[golden_task] = [code[value] for value in answers.golden.values()]
    left, right = task_left[task], task_right[task]
    golden_choice = golden_of_task[task]

    if options["pairwise_model"] == "noisy_bt":
        theta = noisy_bradley_terry(
            left=left,
            right=right,
            worker=worker,
            choice=choice,
            golden_choice=golden_choice,
            n_items=n_items,
            n_workers=n_workers,
        )
    else:
        counted = np.where(golden_choice >= 0, golden_choice, choice)
        share = LEFT_SHARE[counted]
        a, b, inverse = pair_index(left, right, n_items=n_items)
        pairs = pair_sums(a=a, b=b, inverse=inverse, left=left, left_wins=share, right_wins=1.0 - share)
        theta = bradley_terry(pairs, n_items=n_items)

    # p / (1 + p) with p = exp(theta), rounded so that items the model cannot tell apart (equal but for
    # rounding error) are ranked by their key and break no tied vote, rather than by that error.
    score = np.round(_sigmoid(theta), SCORE_DIGITS)

    # The vote, ties broken by preference: 2 for the side the model favours (for "tie" when it favours
    # neither), 1 for "tie" (for "left" when neither), 0 for the rest; votes weigh 3, so preference only
    # decides among equal counts.
    votes = np.bincount(task * 3 + choice, minlength=n_tasks * 3).reshape(n_tasks, 3)
    favour = np.sign(score[task_left] - score[task_right])  # +1 left, -1 right, 0 neither
    preference = np.zeros((n_tasks, 3), dtype=np.int64)
    preference[favour > 0] = (2, 0, 1)
    preference[favour < 0] = (0, 2, 1)
    preference[favour == 0] = (1, 0, 2)
    chosen = np.argmax(votes * 3 + preference, axis=1)
    chosen[golden_task] = golden_of_task[golden_task]
    counts = votes.sum(axis=1)
    confidence = np.divide(
        votes[np.arange(n_tasks), chosen].astype(np.float64),
        counts,
        out=np.zeros(n_tasks),
        where=counts > 0,
    )
    confidence[golden_task] = 1.0
    known = counts > 0
    known[golden_task] = True

    agreed = (choice == chosen[task]).astype(np.float64)
    given = np.bincount(worker, minlength=n_workers)
    matching = np.bincount(worker, weights=agreed, minlength=n_workers)

    comparisons = np.bincount(left, minlength=n_items) + np.bincount(right, minlength=n_items)
    compared = [i for i in range(n_items) if comparisons[i] > 0]
    compared.sort(key=lambda i: (-score[i], keys[i]))
    items = [
        {"item": values[i], "score": float(score[i]), "rank": rank, "comparisons": int(comparisons[i])}
        for rank, i in enumerate(compared, start=1)
    ]
    return TypeResults(
        answers=[CHOICES[c] if k else None for c, k in zip(chosen.tolist(), known.tolist(), strict=True)],
        confidence=confidence,
        worker_score=np.divide(matching, given, out=np.zeros(n_workers), where=given > 0),
        items=items,
    )
