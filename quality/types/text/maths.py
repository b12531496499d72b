"""Golden scoring by edit similarity; aggregation by ROVER (word voting) or by the most typical answer.

Everything compares texts after ``normalise`` (Unicode compatibility forms folded, case folded, punctuation
removed, whitespace runs collapsed), so "The cat." and "the  cat" are the same answer.

``similarity`` is the normalised Levenshtein similarity of the normalised strings, 1 - distance / longer
length, from rapidfuzz: its bit-parallel C++ runs a million short pairs in well under a second and a
10,000-character pair in milliseconds, where difflib (the standard library's only edit measure) is a
different measure (matching blocks) and takes tens of seconds on a million pairs.

Aggregation, per task (``text_aggregation``):

``rover``
    ROVER (Fiscus 1997), as crowd-kit's ``ROVER``: the answers' words are aligned one answer after another
    into a word transition network by edit distance, and each slot takes the word most answers put there
    (an empty slot when most left it out). crowd-kit's implementation is a Python loop per cell and takes
    about two minutes per million answers, so the same algorithm is written here over numpy arrays, all
    tasks of a batch at once; on the same answers in the same order it gives the same words (the tests
    compare the two). A task's answers are aligned starting from its ``closest`` answer, then the rest in
    canonical order. Words are voted on normalised, and each winning slot is then written the way most of
    the answers that chose its word wrote it there (a word keeps the punctuation written next to it), so
    "The cat sat." and "the cat sat" do not split the vote and the result reads like an answer.
``closest``
    The answer with the highest mean similarity to the task's other answers: a sentence somebody wrote.
``auto`` (default)
    ROVER for short answers, ``closest`` for longer ones (see ``SHORT_WORDS``).

Whichever method chose it, a result that one or more of the task's answers equal after normalising is
given verbatim as the text most of those answers are, ties to the earliest in canonical order: so a single
answer, or unanimous ones, come back exactly as typed (line breaks included, which ROVER's joining with
spaces would lose), and "Main St." wins over "main st" when more workers wrote it so. Only a result that
no answer equals, stitched by ROVER from several, is written ROVER's way.

Answers are taken in one canonical order, (task, worker, text), which decides every tie: a voted slot's tie
goes to the longer word and then to the word later in code-point order (as in crowd-kit), its spelling's
tie to the answer aligned first, ``closest``'s tie and the verbatim text's to the answer earliest in that
order. Neither method weights workers, so golden answers do not change other tasks' results; a golden
task's result is its golden answer with confidence 1.0. ``confidence`` is the share of the task's answers
equal to the result after normalising; ``worker_score`` is the mean similarity of a worker's answers to the
results (on golden tasks, to the golden answers).
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from quality.types.base import FloatArray, IntArray, TypeAnswers, TypeResults

# "auto" merges word by word when the task's answers have at most this many words (the median answer):
# transcribed fields, names, addresses, captchas and lines of text, where every answer is the same few words
# with a few errors. Longer answers are mostly free sentences (descriptions, summaries), worded differently
# by each worker, where a word vote stitches together a sentence nobody wrote; they get "closest".
# A long transcription (speech, paragraphs) is better served by choosing "rover" for the pool.
SHORT_WORDS: Final = 10

# Cells (tasks x hypothesis words x network slots) aligned at once: bounds the memory of a batch to some
# tens of MB whatever the texts' lengths, while keeping batches of short texts large enough that numpy's
# per-call cost does not dominate.
_BATCH_CELLS: Final = 1 << 24

# Scores that differ by less than this are equal (sums of the same similarities in another order differ in
# the last bits), so that ties go to the earliest answer as documented.
_SCORE_DECIMALS: Final = 9

_SPLIT_BLOCK: Final = 1 << 16  # texts split at once

_DIAGONAL, _DELETE, _INSERT = 0, 1, 2  # the alignment's steps, in crowd-kit's order of preference on ties
_EMPTY, _ABSENT = -1, -2  # a network cell where an answer has no word; where a task has no such answer


@cache
def _punctuation() -> dict[int, None]:
    """str.translate's table deleting every Unicode punctuation character (categories P*)."""
    return dict.fromkeys(c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "P")


def normalise(text: str) -> str:
    """The form texts are compared in: NFKC (so "ﬁ" is "fi" and full-width letters are letters), case
    folded, punctuation removed, whitespace runs made one space, trimmed.

    It works word by word (no step joins or splits across whitespace), so the normalised text is the
    normalised words joined by spaces, which aggregation relies on.
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().translate(_punctuation()).split())


def similarity(a: str, b: str) -> float:
    """Normalised Levenshtein similarity of two normalised texts: 1 - edits / longer length; 1.0 if equal."""
    return float(Levenshtein.normalized_similarity(a, b))


def golden_score(answer: Any, golden: Any, *, options: Mapping[str, Any]) -> float:
    return similarity(normalise(answer), normalise(golden))


def golden_correct(score: float, *, options: Mapping[str, Any]) -> bool:
    # A hair of tolerance: 1 - 1/10 is not always the float the requester typed as 0.9.
    return score >= float(options["golden_similarity"]) - 1e-9


@dataclass(frozen=True)
class _Texts:
    """Distinct texts split into words.

    A word is a whitespace-separated token that has something left after normalising; punctuation-only
    tokens ("-", "&") are kept in the spelling of the word before them (or after, at the start).
    ``spellings`` are these written forms, ``spelling_word`` the index of each one's normalised word in
    ``words`` (sorted, so a larger index is a later word in code-point order), ``starts`` the offsets of each
    text's words in ``text_spelling``, and ``normal`` each text's normalised form.
    """

    starts: IntArray
    text_spelling: IntArray
    spellings: list[str]
    spelling_word: IntArray
    words: list[str]
    word_length: IntArray
    normal: list[str]

    def word_count(self) -> IntArray:
        return np.diff(self.starts)


def _group(flat: IntArray, counts: IntArray, *, word_token: npt.NDArray[np.bool_]) -> tuple[IntArray, ...]:
    """Words from tokens: a token with something left after normalising (``word_token``) takes the
    punctuation-only tokens after it, and a text's first word also those before it; a text of punctuation
    alone has no words. ``flat`` holds the texts' tokens one after another, ``counts`` each text's number.

    Returns each word's word-bearing token, each text's number of words, and for the words that took
    punctuation: their indices, the position of their first token in ``flat`` and their numbers of tokens.
    """
    is_word = word_token[flat]
    none = np.zeros(0, np.int64)
    if is_word.all():
        return flat, counts, none, none, none
    owner = np.repeat(np.arange(counts.size), counts)
    seen = np.cumsum(is_word)
    text_words = np.bincount(owner[is_word], minlength=counts.size)
    first_word = np.concatenate([[0], np.cumsum(text_words)])
    before = np.concatenate([[0], seen])[np.concatenate([[0], np.cumsum(counts)])[:-1]]
    unit = first_word[owner] + np.maximum(seen - before[owner] - 1, 0)
    kept = np.flatnonzero(text_words[owner] > 0)
    word = np.zeros(int(first_word[-1]), np.int64)
    word[unit[is_word]] = flat[is_word]
    size = np.bincount(unit[kept], minlength=word.size)
    joined = np.flatnonzero(size > 1)
    return word, text_words, joined, kept[np.searchsorted(unit[kept], joined)], size[joined]


def _split(texts: Sequence[str]) -> _Texts:
    spellings: list[str] = []
    index: dict[str, int] = {}
    token_word: list[str] = []
    text_spelling: list[IntArray] = [np.zeros(0, np.int64)]
    text_words: list[IntArray] = [np.zeros(0, np.int64)]
    normal: list[str] = []

    def code_of(spelt: str) -> int:
        if spelt not in index:
            index[spelt] = len(spellings)
            spellings.append(spelt)
            token_word.append(normalise(spelt))
        return index[spelt]

    # In blocks, so that the tokens of a million texts are not all alive at once.
    for first in range(0, len(texts), _SPLIT_BLOCK):
        block = texts[first : first + _SPLIT_BLOCK]
        # One split of the block's texts joined (they are trimmed, so it splits where each would) gives one
        # list of strings; a list per text would make Python's cycle collector cost more than the splitting.
        counts = np.fromiter(map(len, map(str.split, block)), np.int64, len(block))
        tokens = " ".join(block).split()
        for token in dict.fromkeys(tokens):
            code_of(token)
        flat = np.fromiter(map(index.__getitem__, tokens), np.int64, len(tokens))
        word_token = np.array([bool(word) for word in token_word], dtype=bool)
        spelling, word_counts, joined, start, size = _group(flat, counts, word_token=word_token)
        for u, a, n in zip(joined.tolist(), start.tolist(), size.tolist(), strict=True):
            spelling[u] = code_of(" ".join(tokens[a : a + n]))
        text_spelling.append(spelling)
        text_words.append(word_counts)
        said = list(map(token_word.__getitem__, spelling.tolist()))
        bounds = np.concatenate([[0], np.cumsum(word_counts)]).tolist()
        normal += [" ".join(said[a:b]) for a, b in pairwise(bounds)]
    words = sorted({word for word in token_word if word})
    word_index = {word: i for i, word in enumerate(words)}
    return _Texts(
        starts=np.concatenate([[0], np.cumsum(np.concatenate(text_words))]).astype(np.int64),
        text_spelling=np.concatenate(text_spelling).astype(np.int64),
        spellings=spellings,
        spelling_word=np.array([word_index.get(word, _EMPTY) for word in token_word], dtype=np.int64),
        words=words,
        word_length=np.fromiter(map(len, words), np.int64, len(words)),
        normal=normal,
    )


def _align(
    network: IntArray, slots: IntArray, hypothesis: IntArray, length: IntArray, *, word_of: IntArray
) -> tuple[IntArray, IntArray]:
    """Align one more answer into each task's word transition network, as crowd-kit's ROVER._align.

    Arrays have tasks on their last axis, so that every step below works on all tasks at once.
    ``network`` (slots, answers so far, tasks) holds spelling codes, _EMPTY or _ABSENT; ``slots`` is each
    task's number of slots; ``hypothesis`` (words, tasks) the next answer's spellings, ``length`` its words;
    ``word_of`` maps a code to its word (see ``_word_of``). Costs: 1 to insert a word, to substitute, or to
    delete a slot that holds no empty cell yet; a slot holding the word is free. Rows of the edit-distance
    table are filled whole: a row's deletion chain is a running minimum of (candidate - cumulative cost).
    Ties go diagonal, then deletion, then insertion.
    """
    n_slots, k, n = network.shape
    n_words = hypothesis.shape[0]
    held = word_of[network]
    said = word_of[hypothesis]
    # Loops over the few answers so far: faster than reducing along a short axis.
    match = np.zeros((n_words, n_slots, n), dtype=bool)
    has_empty = np.zeros((n_slots, n), dtype=bool)
    for c in range(k):
        match |= held[None, :, c, :] == said[:, None, :]
        has_empty |= network[:, c, :] == _EMPTY
    cost = np.int16 if n_words + n_slots < 1 << 14 else np.int32  # distances stay below words + slots
    delete_cost = np.zeros((n_slots + 1, n), cost)
    delete_cost[1:] = ~has_empty
    cumulative = np.cumsum(delete_cost, axis=0, dtype=cost)
    substitute = (~match).astype(cost)
    choice = np.empty((n_words + 1, n_slots + 1, n), dtype=np.int8)
    choice[0, :] = _DELETE
    choice[:, 0] = _INSERT
    previous = np.broadcast_to(np.arange(n_slots + 1, dtype=cost)[:, None], (n_slots + 1, n))
    candidate = np.empty((n_slots + 1, n), cost)
    for i in range(1, n_words + 1):
        diagonal = previous[:-1] + substitute[i - 1]
        insert = previous[1:] + 1
        candidate[0] = i
        np.minimum(diagonal, insert, out=candidate[1:])
        candidate -= cumulative
        current = np.minimum.accumulate(candidate, axis=0)
        current += cumulative
        delete = current[:-1] + delete_cost[1:]
        step = choice[i, 1:]
        np.add(delete > insert, _DELETE, out=step, dtype=np.int8)  # _DELETE, or _INSERT where cheaper
        step *= (diagonal > delete) | (diagonal > insert)  # _DIAGONAL (0) where no dearer than both
        previous = current

    # Walk back from each task's corner, recording the steps; then lay them out forwards.
    tasks = np.arange(n)
    flat_choice = choice.reshape(-1, n)
    row, column = length.copy(), slots.copy()
    taken: list[IntArray] = []
    word_at: list[IntArray] = []
    slot_at: list[IntArray] = []
    alive = (row > 0) | (column > 0)
    while alive.any():
        back_step = np.where(alive, flat_choice[row * (n_slots + 1) + column, tasks], -1)
        taken.append(back_step)
        word_at.append(row - 1)
        slot_at.append(column - 1)
        row = row - (alive & (back_step != _DELETE))
        column = column - (alive & (back_step != _INSERT))
        alive = (row > 0) | (column > 0)
    new_slots = np.zeros(n, np.int64)
    for back_step in taken:
        new_slots += back_step >= 0
    width = max(int(new_slots.max(initial=0)), 1)
    back = new_slots[None, :] - 1 - np.arange(width)[:, None]  # the step that made each new slot
    valid = back >= 0
    back = np.maximum(back, 0)
    steps = np.array(taken or [np.full(n, -1)], dtype=np.int64)
    kind = np.where(valid, steps[back, tasks], -1)
    from_slot = np.maximum(np.array(slot_at or [np.zeros(n, np.int64)], dtype=np.int64)[back, tasks], 0)
    from_word = np.maximum(np.array(word_at or [np.zeros(n, np.int64)], dtype=np.int64)[back, tasks], 0)
    grown = np.empty((width, k + 1, n), dtype=np.int64)
    kept = np.take_along_axis(network, np.broadcast_to(from_slot[:, None, :], (width, k, n)), axis=0)
    grown[:, :k] = np.where((kind == _INSERT)[:, None, :], _EMPTY, np.where(valid[:, None, :], kept, _ABSENT))
    said_here = np.take_along_axis(hypothesis, from_word, axis=0)
    grown[:, k] = np.where(kind == _DELETE, _EMPTY, np.where(valid, said_here, _ABSENT))
    return grown, new_slots


def _word_of(spelling_word: IntArray) -> IntArray:
    """spelling_word, indexable by the markers too: word_of[_EMPTY] is _EMPTY, word_of[_ABSENT] _ABSENT."""
    return np.concatenate([spelling_word, [_ABSENT, _EMPTY]]).astype(np.int64)


def _vote(network: IntArray, *, word_of: IntArray, word_length: IntArray) -> IntArray:
    """Each slot's winning spelling, or _EMPTY where the slot's vote went to no word; ``network`` is
    (slots, answers, tasks), the result (slots, tasks).

    The word most cells hold wins (empty cells vote for no word; absent ones do not vote); ties go to the
    longer word, then to the later one, so no word loses a tie to the empty vote (crowd-kit's rule). The
    slot is then spelt the way most of the cells holding the word spell it, ties to the earliest answer.
    """
    h = network.shape[1]
    word = word_of[network]
    votes = np.zeros(word.shape, np.int64)
    for c in range(h):
        votes += word == word[:, c, None, :]
    n_words = max(len(word_length), 1)
    rank = np.where(word >= 0, word_length[np.maximum(word, 0)] * n_words + word + 1, 0)
    key = np.where(word == _ABSENT, -1, votes * (int(word_length.max(initial=0)) + 1) * n_words * 2 + rank)
    winner = np.take_along_axis(word, key.argmax(axis=1)[:, None, :], axis=1)
    holds = (word == winner) & (winner >= 0)
    spelt = np.zeros(word.shape, np.int64)
    for c in range(h):
        spelt += (network == network[:, c, None, :]) & holds[:, c, None, :]
    pick = np.where(holds, spelt, -1).argmax(axis=1)
    chosen = np.take_along_axis(network, pick[:, None, :], axis=1)[:, 0, :]
    return np.where(winner[:, 0, :] >= 0, chosen, _EMPTY)


def _rover(hypotheses: IntArray, lengths: IntArray, texts: _Texts) -> IntArray:
    """ROVER over a batch of tasks with the same number of answers: ``hypotheses`` (answers, words, tasks)
    of spellings (_ABSENT past an answer's end), ``lengths`` (answers, tasks) their numbers of words.
    Returns (slots, tasks) of winning spellings, or _EMPTY for a slot that is left out."""
    word_of = _word_of(texts.spelling_word)
    network = hypotheses[0][:, None, :]
    slots = lengths[0]
    for k in range(1, hypotheses.shape[0]):
        width = max(int(lengths[k].max(initial=0)), 1)
        network, slots = _align(network, slots, hypotheses[k, :width], lengths[k], word_of=word_of)
    return _vote(network, word_of=word_of, word_length=texts.word_length)


def _rover_texts(
    tasks: IntArray,
    *,
    start: IntArray,
    count: IntArray,
    longest: IntArray,
    answer_text: IntArray,
    texts: _Texts,
) -> dict[int, tuple[str, str]]:
    """ROVER results for ``tasks``, whose answers are answer_text[start:start + count] (codes into texts, in
    canonical order), the longest having ``longest`` words. Returns {task: (text, normalised text)}, without
    the tasks whose every slot was voted empty.

    Tasks are batched by their number of answers, and by their longest answer rounded up to a power of two
    (so padding at most doubles the work)."""
    words = texts.word_count()
    word_of = np.array(texts.words, dtype=object)
    width = np.left_shift(1, np.ceil(np.log2(np.maximum(longest, 1))).astype(np.int64))
    results: dict[int, tuple[str, str]] = {}
    batches = np.lexsort((width, count))
    bounds = np.flatnonzero(np.diff(count[batches]) | np.diff(width[batches])) + 1
    for members in np.split(batches, bounds):
        if not members.size:
            continue
        n_answers, n_words = int(count[members[0]]), int(width[members[0]])
        per_task = n_words * (2 * n_words + 1) * n_answers
        for chunk in np.array_split(members, -(-members.size * per_task // _BATCH_CELLS)):
            text = answer_text[start[chunk][None, :] + np.arange(n_answers)[:, None]]
            lengths = words[text]
            position = np.arange(n_words)[None, :, None]
            source = np.minimum(texts.starts[text][:, None, :] + position, texts.text_spelling.size - 1)
            hypotheses = np.where(position < lengths[:, None, :], texts.text_spelling[source], _ABSENT)
            voted = _rover(hypotheses, lengths, texts).T
            row, slot = np.nonzero(voted >= 0)
            spelling = voted[row, slot]
            edges = np.searchsorted(row, np.arange(chunk.size + 1)).tolist()
            spelt = [texts.spellings[s] for s in spelling.tolist()]
            said = word_of[texts.spelling_word[spelling]].tolist()
            for r, task in enumerate(tasks[chunk].tolist()):
                a, b = edges[r], edges[r + 1]
                if b > a:
                    results[task] = (" ".join(spelt[a:b]), " ".join(said[a:b]))
    return results


def _closest(start: IntArray, count: IntArray, normal: IntArray, strings: Sequence[str]) -> IntArray:
    """For each task, the position (into the canonical answers) of the answer with the highest mean
    similarity to the task's other answers; ties to the earliest. ``normal`` codes each answer's normalised
    text into ``strings``."""
    best = start.copy()
    for size in np.unique(count[count > 1]).tolist():
        members = np.flatnonzero(count == size)
        a, b = np.triu_indices(size, 1)
        left = (start[members, None] + a[None, :]).ravel()
        right = (start[members, None] + b[None, :]).ravel()
        pair_similarity = _similarities(normal[left], normal[right], strings)
        total = np.bincount(left, weights=pair_similarity, minlength=normal.size) + np.bincount(
            right, weights=pair_similarity, minlength=normal.size
        )
        score = np.round(total[start[members, None] + np.arange(size)[None, :]], _SCORE_DECIMALS)
        best[members] = start[members] + score.argmax(axis=1)
    return best


def _similarities(a: IntArray, b: IntArray, strings: Sequence[str]) -> FloatArray:
    """similarity of strings[a[i]] and strings[b[i]] for every i; each distinct pair is measured once."""
    out = np.ones(a.size)
    differ = a != b
    if not differ.any():
        return out
    # The measure is symmetric, so (a, b) and (b, a) are one pair.
    low, high = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
    pairs, inverse = np.unique(low * len(strings) + high, return_inverse=True)
    measured = cpdist(
        [strings[x] for x in (pairs // len(strings)).tolist()],
        [strings[x] for x in (pairs % len(strings)).tolist()],
        scorer=Levenshtein.normalized_similarity,
        dtype=np.float64,
    )
    out[differ] = np.asarray(measured, dtype=np.float64)[inverse.ravel()]
    return out


def _most_written(
    task: IntArray, code: IntArray, *, agrees: npt.NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """The tasks with answers that agree with their result, and for each the text most of those answers
    are (ties to the earliest in canonical order): "Main St." over "main st" when more wrote it so.
    ``task`` and ``code`` are the answers in canonical order."""
    position = np.flatnonzero(agrees)
    width = int(code.max(initial=0)) + 1
    pairs, first, times = np.unique(
        task[position] * width + code[position], return_index=True, return_counts=True
    )
    tasks = pairs // width
    ranked = np.lexsort((first, -times, tasks))
    leading = ranked[np.flatnonzero(np.diff(tasks[ranked], prepend=-1))]
    return tasks[leading], pairs[leading] % width


def _canonical_order(task: IntArray, worker: IntArray, texts: Sequence[str], code: IntArray) -> IntArray:
    """The order (task, worker), and for a worker who answered a task twice, by text."""
    order = np.lexsort((worker, task))
    task, worker = task[order], worker[order]
    repeated = np.flatnonzero((np.diff(task) == 0) & (np.diff(worker) == 0))
    if not repeated.size:
        return order
    # The database allows one answer per worker and task, so this is for other callers: the few texts
    # involved are ranked, rather than sorting every distinct text.
    involved = np.unique(np.concatenate([repeated, repeated + 1]))
    rank_of = {text: i for i, text in enumerate(sorted({texts[c] for c in code[order[involved]].tolist()}))}
    rank = np.zeros(order.size, np.int64)
    rank[involved] = [rank_of[texts[c]] for c in code[order[involved]].tolist()]
    return order[np.lexsort((rank, worker, task))]


def aggregate(answers: TypeAnswers, *, labels: Sequence[str], options: Mapping[str, Any]) -> TypeResults:
    import pandas as pd  # 0.3 s to import, which the web processes that score golden answers need not pay

    n_tasks, n_workers = answers.n_tasks, answers.n_workers
    method = str(options["text_aggregation"])
    text_code, uniques = pd.factorize(np.array(answers.values, dtype=object))
    distinct: list[str] = uniques.tolist()
    task, worker = np.asarray(answers.task, np.int64), np.asarray(answers.worker, np.int64)
    order = _canonical_order(task, worker, distinct, text_code)
    task, worker, code = task[order], worker[order], text_code[order].astype(np.int64)
    texts = _split(distinct)

    # Normalised texts, coded; the results' and golden answers' forms join the same table.
    normal_of = {text: i for i, text in enumerate(dict.fromkeys(texts.normal))}
    answer_normal = np.fromiter(map(normal_of.__getitem__, texts.normal), np.int64, len(texts.normal))[code]
    strings = list(normal_of)

    count = np.bincount(task, minlength=n_tasks)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    golden = np.zeros(n_tasks, dtype=bool)
    golden[np.fromiter(answers.golden, np.int64, len(answers.golden))] = True
    open_tasks = np.flatnonzero((count > 0) & ~golden)
    best = np.zeros(n_tasks, np.int64)
    best[open_tasks] = _closest(start[open_tasks], count[open_tasks], answer_normal, strings)

    words = texts.word_count()[code]
    if method == "auto":
        # The median answer's number of words: the middle of the task's sorted word counts.
        by_length = words[np.lexsort((words, task))]
        middle = by_length[start[open_tasks] + (count[open_tasks] - 1) // 2]
        upper = by_length[start[open_tasks] + count[open_tasks] // 2]
        merged = open_tasks[middle + upper <= 2 * SHORT_WORDS]
    else:
        merged = open_tasks if method == "rover" else open_tasks[:0]
    # ROVER aligns each task's answers starting from its closest one, then the rest in canonical order: on
    # synthetic transcriptions that cut the word error rate by an eighth against starting from the first.
    offset = np.arange(code.size) - start[task]
    first = (best - start)[task]
    moved = np.where(offset == first, 0, offset + (offset < first)) + start[task]
    aligned = np.empty_like(code)
    aligned[moved] = code
    longest = np.zeros(n_tasks, np.int64)
    if words.size:
        longest[count > 0] = np.maximum.reduceat(words, start[count > 0])
    voted = _rover_texts(
        merged,
        start=start[merged],
        count=count[merged],
        longest=longest[merged],
        answer_text=aligned,
        texts=texts,
    )

    result_text: list[Any] = [None] * n_tasks
    result_normal = np.full(n_tasks, -1, np.int64)
    for t, (text, normal) in voted.items():
        result_text[t] = text
        result_normal[t] = normal_of.setdefault(normal, len(normal_of))
    # The closest answer for the other tasks, and where ROVER voted every slot empty (most answers held no
    # word, e.g. "..."): the most typical answer is still an answer.
    picked = open_tasks[result_normal[open_tasks] < 0]
    for t, position in zip(picked.tolist(), best[picked].tolist(), strict=True):
        result_text[t] = distinct[int(code[position])]
        result_normal[t] = answer_normal[position]
    # A result that answers equal after normalising is given as they wrote it (golden tasks have no result
    # yet, so none agrees with theirs): ROVER rejoins words with single spaces, and one answer, or agreeing
    # answers, must come back exactly as typed, line breaks and all.
    written_tasks, written = _most_written(task, code, agrees=answer_normal == result_normal[task])
    for t, c in zip(written_tasks.tolist(), written.tolist(), strict=True):
        result_text[t] = distinct[c]
    for t, value in answers.golden.items():
        result_text[t] = value
        result_normal[t] = normal_of.setdefault(normalise(value), len(normal_of))
    strings = list(normal_of)

    agrees = (answer_normal == result_normal[task]).astype(np.float64)
    confidence = np.bincount(task, weights=agrees, minlength=n_tasks) / np.maximum(count, 1)
    confidence[golden] = 1.0
    scores = _similarities(answer_normal, result_normal[task], strings)
    answered = np.bincount(worker, minlength=n_workers)
    summed = np.bincount(worker, weights=scores, minlength=n_workers)
    return TypeResults(
        answers=result_text,
        confidence=confidence,
        worker_score=np.divide(summed, answered, out=np.zeros(n_workers), where=answered > 0),
    )
