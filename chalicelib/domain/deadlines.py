"""The deadlines running for a referral today: what is due next, by when, under which rule."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from . import states
from .referral import Referral
from .rulebook import Period, Rulebook


@dataclass(frozen=True)
class Due:
    rule: str
    due: date
    description: str

    def as_dict(self, today: date) -> dict:
        return {"rule": self.rule, "due": self.due, "overdue": today > self.due,
                "description": self.description}


def _anchor(referral: Referral, anchor: str) -> date | None:
    return {"referral": referral.referred_on, "acceptance": referral.accepted_on,
            "start": referral.started_on}[anchor]


def _deadline(rulebook: Rulebook, referral: Referral, name: str, what: str) -> Due | None:
    rule = rulebook.deadlines[name]
    start = _anchor(referral, rule.anchor)
    if start is None:
        return None
    return Due(name, rule.period.after(start, rulebook.nation),
               f"{what} within {rule.period.describe()} of the {rule.anchor}")


def review_interval(rulebook: Rulebook, referral: Referral) -> Period:
    """The participant's review cadence: their support level's, tightened by the provider's maximum."""
    interval = rulebook.support_levels.get(referral.support_level) or next(iter(rulebook.support_levels.values()))
    module = rulebook.module(referral.module_id) if referral.module_id else None
    candidates = [interval]
    if module and module.review_every:
        candidates.append(module.review_every)
    provider = rulebook.provider(referral.provider_org_id)
    if provider and provider.review_every_max:
        candidates.append(provider.review_every_max)
    base = referral.started_on or referral.referred_on
    return min(candidates, key=lambda p: p.after(base, rulebook.nation))


def _acknowledge(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status == states.REFERRED:
        yield _deadline(rulebook, referral, "acknowledge", "acknowledge the referral")


def _start(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status in (states.REFERRED, states.ACCEPTED):
        yield _deadline(rulebook, referral, "start", "start, or record did-not-start")


def _assessment(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status == states.STARTED:
        yield _deadline(rulebook, referral, "assessment", "initial assessment")


def _action_plan(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status in (states.STARTED, states.ASSESSED):
        yield _deadline(rulebook, referral, "action_plan", "action plan agreed")


def _reviews(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status not in (states.IN_SUPPORT, states.IN_WORK):
        return
    interval = review_interval(rulebook, referral)
    # Reviews run from the last one; before any, from the action plan (or, for someone who went into work
    # before an action plan was agreed, from the assessment).
    last = referral.last_review_on or referral.action_plan_on or referral.assessed_on or referral.started_on
    assert last is not None  # in support or in work means started
    yield Due("review", interval.after(last, rulebook.nation),
              f"action-plan review every {interval.describe()} ({referral.support_level})")


def _extra_reviews(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status not in (states.IN_SUPPORT, states.IN_WORK):
        return
    provider = rulebook.provider(referral.provider_org_id)
    for extra in provider.extra_reviews if provider else ():
        done = referral.extra_reviews_on.get(extra.id)
        last = date.fromisoformat(done) if done else referral.started_on
        assert last is not None
        yield Due(extra.id, extra.every.after(last, rulebook.nation), f"{extra.name} every {extra.every.describe()}")


def _sustainment(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status != states.IN_WORK or not referral.job_start:
        return
    job_started = date.fromisoformat(referral.job_start["start_date"])
    pending = [c for c in rulebook.checkpoints if c.id not in referral.sustainments]
    if pending:
        nxt = min(pending, key=lambda c: c.after.after(job_started, rulebook.nation))
        yield Due(f"sustainment:{nxt.id}", nxt.after.after(job_started, rulebook.nation),
                  f"sustainment check {nxt.id} after the job start")


def _module_duration(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    """The current module's end; an extension the commissioner approved moves it (seed 002's safeguards)."""
    module = rulebook.module(referral.module_id) if referral.module_id else None
    if referral.status in states.ON_PROVISION and module and module.max_duration and referral.module_since:
        end = module.max_duration.after(referral.module_since, rulebook.nation)
        what = f"{module.name} lasts at most {module.max_duration.describe()}"
        extension = referral.module_extension or {}
        if extension.get("module_id") == module.id and extension.get("status") == "approved":
            end = date.fromisoformat(extension["until"])
            what += f", extended to {extension['until']} with the commissioner's approval"
        elif extension.get("module_id") == module.id and extension.get("status") == "requested":
            what += f" (an extension to {extension['until']} awaits the commissioner's decision)"
        yield Due("module_max_duration", end, what)


def _max_duration(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    if referral.status in states.ON_PROVISION and rulebook.max_duration and referral.started_on:
        yield Due("max_duration", rulebook.max_duration.after(referral.started_on, rulebook.nation),
                  f"time on provision at most {rulebook.max_duration.describe()}")


def _reassessment(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    """ESF (seed 003): 'a reassessment with the participant every' so often, from the last assessment."""
    every = rulebook.reassessment_every
    if every and referral.assessed_on and referral.status in (states.ASSESSED, states.IN_SUPPORT):
        yield Due("reassessment", every.after(referral.assessed_on, rulebook.nation),
                  f"reassessment every {every.describe()} after the last assessment")


def _eligibility_decision(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    """ESF (seed 003): 'We will notify people who are ineligible ... within' a set time of the referral: the
    eligibility decision is due by then (a start counts as the decision that the person is eligible)."""
    notice = rulebook.ineligible_notice
    if notice and referral.status in (states.REFERRED, states.ACCEPTED) and referral.eligibility_decision is None:
        yield Due("eligibility_decision", notice.after(referral.referred_on, rulebook.nation),
                  f"eligibility decided (an ineligible person told why and signposted) within {notice.describe()} "
                  "of the referral")


def _leaver_follow_up(rulebook: Rulebook, referral: Referral) -> Iterable[Due | None]:
    """ESF (seed 003): 'all leavers not in work will be tracked for' a period: the next follow-up contact."""
    due = next_follow_up(rulebook, referral)
    tracking = rulebook.leaver_tracking
    if due and tracking:
        yield Due("leaver_follow_up", due, f"follow-up contact with a leaver not in work every "
                  f"{tracking.every.describe()} for {tracking.lasts.describe()} after the exit")


def next_follow_up(rulebook: Rulebook, referral: Referral) -> date | None:
    """When the next follow-up contact with a tracked leaver is due (None: not tracked, or tracking is over)."""
    tracking, leaver = rulebook.leaver_tracking, referral.leaver
    if referral.status != states.EXITED or not tracking or not leaver or leaver.get("outcome") in IN_WORK:
        return None
    # The n-th contact is due n cadences after the exit (a late contact does not move the ones after it).
    nth = int(leaver.get("contacts") or 0) + 1
    due = Period(tracking.every.amount * nth, tracking.every.unit).after(
        date.fromisoformat(leaver["exited_on"]), rulebook.nation)
    return due if due <= date.fromisoformat(leaver["tracked_until"]) else None


IN_WORK = ("in_work", "self_employed")  # follow-up outcomes that end a leaver's tracking


# Every deadline rule, each a function of the rulebook and the referral's state.
RULES: tuple[Callable[[Rulebook, Referral], Iterable[Due | None]], ...] = (
    _acknowledge, _start, _assessment, _action_plan, _reviews, _extra_reviews, _sustainment, _module_duration,
    _max_duration, _reassessment, _eligibility_decision, _leaver_follow_up)


def running(rulebook: Rulebook, referral: Referral) -> list[Due]:
    """Every deadline now running for this referral, soonest first."""
    dues = [d for rule in RULES for d in rule(rulebook, referral) if d is not None]
    return sorted(dues, key=lambda d: d.due)
