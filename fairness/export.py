"""Everything the platform holds about one person, as a zip of CSV files (tables) and JSON files (the rest).

Built in memory: one person's data is small enough, and the zip is only written once it is complete.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from fairlabel.money import money_str
from fairlabel.spreadsheets import spreadsheet_safe
from fairlabel.timestamps import json_time
from fairness.models import Decision, RequesterRating
from fairness.selectors import care_status, rating_comments_for_requester, ratings_for_requesters
from payouts.models import Entry, Withdrawal
from tasks.models import Answer, Pool, WorkerPoolStats

ANSWER_COLUMNS = [
    "pool_id",
    "task_id",
    "label",
    "submitted_at",
    "duration_ms",
    "reward",
    "pool_name",
    "status",
    "reject_reason",
]
LEDGER_COLUMNS = ["transaction_id", "created_at", "kind", "account", "pool_id", "amount", "memo"]
SKILL_COLUMNS = ["pool_id", "pool_name", "answers", "golden_answered", "golden_correct", "golden_accuracy"]
WITHDRAWAL_COLUMNS = ["id", "amount", "status", "created_at", "finished_at", "failure_reason"]
POOL_COLUMNS = ["id", "name", "status", "reward", "overlap", "created_at", "opened_at", "closed_at"]


def _csv(columns: list[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return out.getvalue()


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def _profile(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "public_id": str(user.public_id),
        "pseudonym": user.pseudonym,
        "date_joined": json_time(user.date_joined),
        "last_login": json_time(user.last_login),
        "is_active": user.is_active,
    }


def _ledger_rows(user: User, extra: Q | None = None) -> list[dict[str, Any]]:
    accounts = Q(account__user=user)
    if extra is not None:
        accounts |= extra
    entries = (
        Entry.objects.filter(accounts)
        .select_related("transaction", "account")
        .order_by("transaction__created_at", "id")
    )
    return [
        {
            "transaction_id": entry.transaction_id,
            "created_at": json_time(entry.transaction.created_at),
            "kind": entry.transaction.kind,
            "account": entry.account.kind,
            "pool_id": entry.account.pool_id or entry.transaction.pool_id,
            "amount": money_str(entry.amount),
            "memo": entry.transaction.memo,
        }
        for entry in entries.iterator(chunk_size=2000)
    ]


def _decisions(user: User) -> list[dict[str, Any]]:
    from fairness.serializers import decision_json

    return [
        decision_json(d)
        for d in Decision.objects.filter(worker=user).select_related("appeal").order_by("created_at", "id")
    ]


def _restrictions(user: User) -> list[dict[str, Any]]:
    from quality.models import Restriction as restriction_model

    return [
        {
            "id": r.pk,
            "pool_id": r.pool_id,
            "kind": r.kind,
            "reason": r.reason,
            "figures": r.figures,
            "created_at": json_time(r.created_at),
            "lifted_at": json_time(r.lifted_at),
            "lift_reason": r.lift_reason,
        }
        for r in restriction_model.objects.filter(worker=user).order_by("created_at", "id")
    ]


def worker_export(*, user: User) -> dict[str, str]:
    """The worker's files: name -> content."""
    answers = [
        {
            "pool_id": a.pool_id,
            "task_id": a.task_id,
            "label": a.label,
            "submitted_at": json_time(a.submitted_at),
            "duration_ms": a.duration_ms,
            "reward": money_str(a.reward),
            "pool_name": a.pool.name,
            "status": a.status,
            "reject_reason": a.reject_reason,
        }
        for a in Answer.objects.filter(worker=user).select_related("pool").order_by("submitted_at", "id")
    ]
    skills = [
        {
            "pool_id": s.pool_id,
            "pool_name": s.pool.name,
            "answers": s.answers,
            "golden_answered": s.golden_answered,
            "golden_correct": s.golden_correct,
            "golden_accuracy": round(s.golden_correct / s.golden_answered, 4) if s.golden_answered else None,
        }
        for s in WorkerPoolStats.objects.filter(worker=user).select_related("pool").order_by("pool_id")
    ]
    withdrawals = [
        {
            "id": w.pk,
            "amount": money_str(w.amount),
            "status": w.status,
            "created_at": json_time(w.created_at),
            "finished_at": json_time(w.finished_at),
            "failure_reason": w.failure_reason,
        }
        for w in Withdrawal.objects.filter(worker=user).order_by("created_at", "id")
    ]
    ratings = [
        {
            "requester": r.requester.username,
            "pay": r.pay,
            "clarity": r.clarity,
            "fairness": r.fairness,
            "speed": r.speed,
            "comment": r.comment,
            "updated_at": json_time(r.updated_at),
        }
        for r in RequesterRating.objects.filter(worker=user).select_related("requester").order_by("id")
    ]
    care = care_status(worker=user)
    profile = _profile(user) | {
        "content_opt_ins": care.categories,
        "daily_cap_on_warned_tasks": care.daily_cap,
    }
    decisions = _decisions(user)
    earnings = _ledger_rows(user)
    restrictions = _restrictions(user)
    everything = {
        "exported_at": json_time(timezone.now()),
        "profile": profile,
        "answers": answers,
        "skills": skills,
        "restrictions": restrictions,
        "decisions": decisions,
        "appeals": [d["appeal"] for d in decisions if d["appeal"] is not None],
        "earnings": earnings,
        "withdrawals": withdrawals,
        "ratings_given": ratings,
    }
    return {
        "profile.json": _json(profile),
        "answers.csv": _csv(ANSWER_COLUMNS, answers),
        "earnings.csv": _csv(LEDGER_COLUMNS, earnings),
        "skills.csv": _csv(SKILL_COLUMNS, skills),
        "withdrawals.csv": _csv(WITHDRAWAL_COLUMNS, withdrawals),
        "restrictions.json": _json(restrictions),
        "decisions.json": _json(decisions),
        "appeals.json": _json(everything["appeals"]),
        "ratings_given.json": _json(ratings),
        "data.json": _json(everything),
    }


def requester_export(*, user: User) -> dict[str, str]:
    pools = [
        {
            "id": p.pk,
            "name": p.name,
            "status": p.status,
            "reward": money_str(p.reward),
            "overlap": p.overlap,
            "created_at": json_time(p.created_at),
            "opened_at": json_time(p.opened_at),
            "closed_at": json_time(p.closed_at),
        }
        for p in Pool.objects.filter(requester=user).order_by("id")
    ]
    # Billing: the requester's balance and every reservation of their pools.
    billing = _ledger_rows(user, extra=Q(account__pool__requester=user))
    summary = ratings_for_requesters(requester_ids=[user.pk]).get(user.pk)
    ratings = {
        "count": summary.count if summary else 0,
        "averages": {
            "pay": summary.pay,
            "clarity": summary.clarity,
            "fairness": summary.fairness,
            "speed": summary.speed,
        }
        if summary
        else None,
        "comments": rating_comments_for_requester(requester=user, limit=10_000),
    }
    profile = _profile(user)
    deposits = [row for row in billing if row["kind"] == "deposit"]
    everything = {
        "exported_at": json_time(timezone.now()),
        "profile": profile,
        "pools": pools,
        "billing": billing,
        "deposits": deposits,
        "ratings_received": ratings,
    }
    return {
        "profile.json": _json(profile),
        "pools.csv": _csv(POOL_COLUMNS, pools),
        "billing.csv": _csv(LEDGER_COLUMNS, billing),
        "deposits.csv": _csv(LEDGER_COLUMNS, deposits),
        "ratings_received.json": _json(ratings),
        "data.json": _json(everything),
    }


def user_export_zip(*, user: User) -> bytes:
    """One zip with everything about this worker or requester."""
    files = requester_export(user=user) if user.is_requester else worker_export(user=user)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def export_filename(*, user: User) -> str:
    return f"fairlabel-{user.pseudonym}-{timezone.now():%Y%m%d}.zip"
