"""PURE: the outcome words of reviews, deploys, deliveries and verdicts, defined once.

Each is a `StrEnum`: a member *is* its string, so what the store writes, what the JSON API
and the audit trail show, and what rows written by earlier versions hold stay the same
strings (`ReviewState("superseded") is ReviewState.SUPERSEDED`, and a plain `str` read back
from the database compares equal to the member).
"""

from __future__ import annotations

from enum import StrEnum


class ReviewState(StrEnum):
    """How a review of one change at one head ended (`review_runs.state`, the review job's
    outcome, the `state` of a "review" audit record)."""

    RUNNING = "running"  # started, not finished (a crashed worker's run is redone)
    SUCCESS = "success"  # reviewed; nothing fails
    WARNING = "warning"  # a dashboard filter; the review job writes SUCCESS for it
    FAILURE = "failure"  # reviewed and failing, or a change from a fork not rendered
    ERROR = "error"  # the review crashed (the details stay in the logs)
    SKIPPED = "skipped"  # the change is not open (or no review pipeline configured)
    SUPERSEDED = "superseded"  # the head moved: a newer review decides
    DUPLICATE = "duplicate"  # a second event for a head that is reviewed already
    REFUSED = "refused"  # a command from a sender without write access
    IGNORED = "ignored"  # an event with no change to review
    # the review ladder's "go ahead" (`bot.decide.ReviewGate.state`): never a stored outcome
    REVIEW = "review"


# What the dashboard offers as a filter of review runs.
REVIEW_STATES = (
    ReviewState.SUCCESS,
    ReviewState.WARNING,
    ReviewState.FAILURE,
    ReviewState.ERROR,
    ReviewState.RUNNING,
    ReviewState.SKIPPED,
    ReviewState.SUPERSEDED,
    ReviewState.REFUSED,
    ReviewState.IGNORED,
)


class DeployState(StrEnum):
    """The state of one deploy of one SHA to one environment (`deployments.state`)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUSED = "refused"  # the gate said no: not reviewed, or merge skew
    SUPERSEDED = "superseded"  # the branch moved past the SHA
    SKIPPED = "skipped"  # already live there: nothing recorded


# The states a deployment row may hold, and those that end it.
DEPLOY_STATES = (
    DeployState.QUEUED,
    DeployState.RUNNING,
    DeployState.SUCCEEDED,
    DeployState.FAILED,
    DeployState.REFUSED,
    DeployState.SUPERSEDED,
)
FINAL_DEPLOY_STATES = (
    DeployState.SUCCEEDED,
    DeployState.FAILED,
    DeployState.REFUSED,
    DeployState.SUPERSEDED,
)


class Delivery(StrEnum):
    """Where a received delivery's job stands (`deliveries.outcome`):
    queued -> claimed -> done | superseded | failed | dead (queued again on retry)."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    SUPERSEDED = "superseded"  # a newer head of the same change was received
    FAILED = "failed"  # a permanent error
    DEAD = "dead"  # retryable errors until the attempts and the window ran out


# Terminal outcomes: nothing will run this delivery again unless the forge redelivers it.
FINAL = (Delivery.DONE, Delivery.SUPERSEDED, Delivery.FAILED, Delivery.DEAD)


class JobRun(StrEnum):
    """What one run of a queued job did without ending the delivery (`bot.queue.Queue.run`
    returns these or the final `Delivery` outcome)."""

    NOT_CLAIMED = "not-claimed"  # done already, or another worker holds a live lease
    RETRY = "retry"  # queued again after a retryable error
    DEFERRED = "deferred"  # left queued while the data disk is full


class HookReply(StrEnum):
    """The `status` of the webhook receiver's answer to a delivery."""

    QUEUED = "queued"
    REQUEUED = "requeued"  # a failed or dead delivery, redelivered by the forge
    DUPLICATE = "duplicate"  # this delivery id is stored already
    IGNORED = "ignored"  # not an event the bot acts on (the reply says why)
    ERROR = "error"  # refused (bad request, signature) or the store/queue is down


class Verdict(StrEnum):
    """The gate of a change, the same for `gitops-bot check` and the service."""

    PASSED = "passed"
    FAILED = "failed"
    NEEDS_APPROVAL = "needs approval"


# `gitops-bot check` exit status per verdict (2 is a usage or configuration error).
EXIT_STATUS = {Verdict.PASSED: 0, Verdict.FAILED: 1, Verdict.NEEDS_APPROVAL: 3}
