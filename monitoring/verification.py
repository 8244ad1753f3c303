"""Monitoring orchestration: after a push, follow the deploy, watch the fingerprint, judge the fix.

:class:`Verifier` moves every fix's :class:`~core.verification.Verification` forward once
per monitor cycle (the pipeline calls :meth:`Verifier.begin_cycle` before the records and
:meth:`Verifier.end_cycle` after them); its state is in the database, so a restart in the
middle of a window resumes it::

    track(proposal, sha)   a pushed fix (the sweep finds applied ones), or later a merged PR
        │
    deploying ── deploy follower each cycle ──▶ live: "deploy <sha> is live", window opens
        │   └─▶ failed/crashed: "deploy failed", status regressed, Revert offered
        │   └─▶ nothing within deploy_timeout_seconds: "no deployment seen", stops
    watching ── each cycle: the fingerprint's events stamped in [live_at, live_at + window)
        │       (monitoring.watch), a new error at a changed line: "probably caused by it"
        └─▶ window over in log time: 0 events -> verified; else regressed (counts before
            and after); the wall clock closes it too, one window later, if no log line
            arrives to do it (a silent service)

Log time is the newest record timestamp read, never past the wall clock of the cycle that
read it: a line planted with a future stamp cannot close a window early.

Every outcome is a compare-and-set from ``applied`` audited with its facts (counts before
and after, deploy id and status, times: :meth:`Verification.facts`). A proposal that
leaves ``applied`` meanwhile (reverted by a person) stops its verification.
After a failed deploy or a regression, :class:`~monitoring.auto_revert.AutoReverter`
applies ``MENDBOT_AUTO_REVERT``.

Errors: a deploy follower's failure (:class:`~monitoring.sources.base.LogSourceError`) is a
note and the check is repeated next cycle; database errors propagate (the cycle fails).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.clock import utcnow
from core.frames import app_frame
from core.models import Anomaly
from core.notifier import Notifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from core.redact import scrub_secrets
from core.verification import MAX_EVENT_KEYS, DeployCheck, LineRange, Verification
from fixes.persistence.store import SYSTEM_ACTOR, InvalidTransition, ProposalStore
from fixes.persistence.verifications import VerificationStore
from monitoring.auto_revert import AutoReverter
from monitoring.deploys import DeployFollower
from monitoring.sources.base import LogSourceError
from monitoring.watch import CycleWatch, FingerprintWatch, in_changed_lines, matcher_for


class Verifier:
    """Follows pushed fixes to production and says whether they worked.

    Args:
        store: proposals, anomaly totals, audit trail.
        verifications: where each fix's verification lives.
        notifier: the fix's thread.
        deploys: how the deploy of a commit is followed (Railway, or a wait).
        window_seconds: ``MENDBOT_VERIFY_WINDOW_SECONDS``, in log time.
        auto_revert: reverts a failed or regressed fix by policy (None: never).
        changed_lines: commit sha -> path -> changed line ranges
            (``FixImplementor.changed_lines``); None: no "probably caused" reports.
        clock: the current aware UTC time.
        deploy_timeout_seconds: give up on a deploy not seen live within this long.
        sweep_seconds: applied fixes younger than this with no verification are tracked
            (a push made by another process, or just before a restart).
    """

    def __init__(
        self,
        *,
        store: ProposalStore,
        verifications: VerificationStore,
        notifier: Notifier,
        deploys: DeployFollower,
        window_seconds: float,
        auto_revert: AutoReverter | None = None,
        changed_lines: Callable[[str], dict[str, list[LineRange]]] | None = None,
        clock: Callable[[], datetime] = utcnow,
        deploy_timeout_seconds: float = 3600.0,
        sweep_seconds: float = 3600.0,
    ) -> None:
        self.store = store
        self.verifications = verifications
        self.notifier = notifier
        self.deploys = deploys
        self.window_seconds = window_seconds
        self.auto_revert = auto_revert
        self.changed_lines = changed_lines
        self.clock = clock
        self.deploy_timeout = timedelta(seconds=deploy_timeout_seconds)
        self.sweep_window = timedelta(seconds=sweep_seconds)

    # --- starting -----------------------------------------------------------------------------
    def track(
        self, proposal: FixProposal, commit_sha: str, *, pushed_at: datetime | None = None
    ) -> Verification | None:
        """Start following the deploy of ``commit_sha`` for ``proposal``: a pushed fix
        commit, or the merge of its pull request.

        Args:
            proposal: the fix (its fingerprint is watched once the deploy is live).
            commit_sha: the commit whose deployment to follow.
            pushed_at: when it reached the remote (aware UTC); default now.

        Returns:
            The new verification, or None when the fix is already followed.
        """
        totals = self.store.anomaly_totals(proposal.fingerprint) or {}
        verification = Verification(
            proposal_id=proposal.id,
            fingerprint=proposal.fingerprint,
            commit_sha=commit_sha,
            started_at=pushed_at or self.clock(),
            window_seconds=self.window_seconds,
            count_before=int(totals.get("total_count") or proposal.anomaly.count),
            before_first_seen=totals.get("first_seen") or proposal.anomaly.first_seen,
            before_last_seen=totals.get("last_seen") or proposal.anomaly.last_seen,
            changed_lines=self.changed_lines(commit_sha) if self.changed_lines else {},
        )
        started = self.verifications.start(verification)
        if started is not None:
            facts = {"commit_sha": commit_sha, "deploys": self.deploys.name}
            self._audit("deploy_following", started, facts)
        return started

    def sweep(self) -> list[Verification]:
        """Track every recently applied fix that is not followed yet; returns the new ones."""
        since = self.clock() - self.sweep_window
        started = []
        for proposal in self.store.list(statuses={ProposalStatus.APPLIED}, limit=100):
            pushed = proposal.updated_at or proposal.created_at
            if not proposal.commit_sha or pushed < since:
                continue
            if self.verifications.get(proposal.id) is None:
                verification = self.track(proposal, proposal.commit_sha, pushed_at=pushed)
                if verification is not None:
                    started.append(verification)
        return started

    def watching(self, fingerprint: str) -> bool:
        """True while a fix for ``fingerprint`` is being verified (the pipeline does not
        propose it again meanwhile: its events are this verification's)."""
        return self.verifications.watching(fingerprint)

    # --- one cycle ----------------------------------------------------------------------------
    def begin_cycle(self) -> CycleWatch:
        """Before the cycle's records: track new pushes, ask about pending deploys, and
        return the watch the records pass through (notes for the operator on it)."""
        self.sweep()
        watch = CycleWatch()
        for verification in self.verifications.active():
            current = self._still_applied(verification)
            if current is not None:
                current = self._follow_deploy(current, watch.notes)
            if current is not None and current.phase == "watching":
                matcher = matcher_for(self.store.get(current.proposal_id).anomaly)
                watch.watches[current.proposal_id] = FingerprintWatch(current, matcher=matcher)
        return watch

    def end_cycle(self, watch: CycleWatch, anomalies: Sequence[Anomaly]) -> list[str]:
        """After the cycle's records (and after its anomalies were recorded): add the
        counts, report errors probably caused by a fix, close windows that are over.

        Returns:
            Notes for the operator (deploy checks that failed).
        """
        now = self.clock()
        for fingerprint_watch in watch.watches.values():
            verification = self._counted(fingerprint_watch, watch.newest, anomalies)
            verification = self._report_caused(verification, anomalies)
            window_end = verification.window_end
            assert window_end is not None
            log_over = verification.log_time is not None and verification.log_time >= window_end
            wall_over = now >= window_end + timedelta(seconds=verification.window_seconds)
            if log_over or wall_over:
                self._judge(verification)
            else:
                self.verifications.save(verification)
        return watch.notes

    # --- the deploy ---------------------------------------------------------------------------
    def _follow_deploy(self, verification: Verification, notes: list[str]) -> Verification | None:
        """Ask the follower (also while watching: a deploy may crash after going live)."""
        try:
            check = self.deploys.check(
                verification.commit_sha,
                since=verification.started_at,
                deploy_id=verification.deploy_id,
                now=self.clock(),
            )
        except LogSourceError as error:
            notes.append(f"deploy check of {verification.proposal_id} failed: {_safe(error)}")
            return verification
        if check.state == "failed":
            self._deploy_failed(verification, check)
            return None
        if verification.phase == "deploying" and check.state == "pending":
            return self._pending(verification, check)
        if verification.phase == "deploying" and check.state == "live":
            return self._went_live(verification, check)
        return verification

    def _pending(self, verification: Verification, check: DeployCheck) -> Verification | None:
        """Not live yet: remember a new platform status; give up after the timeout."""
        waited = self.clock() - verification.started_at
        if waited < self.deploy_timeout:
            if check.status == verification.deploy_status:
                return verification
            moved = verification.model_copy(update={"deploy_status": check.status})
            return self.verifications.save(moved) or verification
        done = self.verifications.save(
            verification.model_copy(
                update={"phase": "done", "outcome": "no_deploy", "finished_at": self.clock()}
            )
        )
        if done is not None:
            facts = {**done.facts(), "waited_seconds": waited.total_seconds()}
            self._audit("deploy_lost", done, facts)
            self._tell(done, "deploy_lost", facts)
        return None

    def _went_live(self, verification: Verification, check: DeployCheck) -> Verification:
        live = verification.model_copy(
            update={
                "phase": "watching",
                "deploy_id": check.deploy_id,
                "deploy_status": check.status,
                "live_at": check.live_at or self.clock(),
            }
        )
        saved = self.verifications.save(live)
        if saved is None:
            return verification
        self._audit("deploy_live", saved, saved.facts())
        self._tell(saved, "deploy_live", saved.facts())
        return saved

    def _deploy_failed(self, verification: Verification, check: DeployCheck) -> None:
        done = self.verifications.save(
            verification.model_copy(
                update={
                    "phase": "done",
                    "outcome": "deploy_failed",
                    "deploy_id": check.deploy_id or verification.deploy_id,
                    "deploy_status": check.status,
                    "finished_at": self.clock(),
                }
            )
        )
        if done is None:
            return
        facts = {**done.facts(), "cause": "deploy_failed"}
        proposal = self._transition(done, ProposalStatus.REGRESSED, facts)
        if proposal is not None:
            self.notifier.post_event(proposal, ProposalEvent(kind="deploy_failed", details=facts))
            why = f"the deploy of {done.commit_sha[:12]} {str(done.deploy_status).lower()}"
            if self.auto_revert is not None:
                self.auto_revert.after(proposal, cause="deploy_failed", reason=why)

    # --- the window ---------------------------------------------------------------------------
    def _counted(
        self, watch: FingerprintWatch, newest: datetime | None, anomalies: Sequence[Anomaly]
    ) -> Verification:
        """The verification with this cycle's new events and its log time.

        Events already counted (the same identity) are skipped. A rule that fired on the
        fingerprint with all its events in the window is counted too (under its own
        identity), when it found more than the record matcher: a floor, should a form of
        the message escape the matcher. Log time never passes the wall clock.
        """
        verification = watch.verification
        known = set(verification.event_keys)
        fresh = [key for key in watch.keys if key not in known]
        unkeyed = watch.count - len(watch.keys)  # past the cap: counted, not told apart
        for anomaly in anomalies:
            fired = anomaly.fingerprint == verification.fingerprint
            if fired and watch.start <= anomaly.first_seen and anomaly.last_seen < watch.end:
                key = f"rule|{anomaly.first_seen.isoformat()}|{anomaly.last_seen.isoformat()}"
                if anomaly.count > watch.count and f"{key}#0" not in known:
                    fresh += [f"{key}#{n}" for n in range(anomaly.count - watch.count)]
        keys = (verification.event_keys + fresh)[:MAX_EVENT_KEYS]
        stamps = [t for t in (verification.log_time, newest) if t is not None]
        log_time = min(max(stamps), self.clock()) if stamps else None
        return verification.model_copy(
            update={
                "count_after": verification.count_after + len(fresh) + unkeyed,
                "records_after": verification.records_after + watch.records,
                "log_time": log_time,
                "event_keys": keys,
            }
        )

    def _report_caused(
        self, verification: Verification, anomalies: Sequence[Anomaly]
    ) -> Verification:
        """Tell the fix's thread about each new error first seen after live-at whose
        innermost in-app frame lies in the lines the fix changed (once per fingerprint)."""
        caused = list(verification.caused)
        for anomaly in anomalies:
            frame = app_frame(anomaly.frames)
            if frame is None or anomaly.fingerprint in (verification.fingerprint, *caused):
                continue
            path = in_changed_lines(frame, verification.changed_lines)
            totals = self.store.anomaly_totals(anomaly.fingerprint) or {}
            first_seen = totals.get("first_seen") or anomaly.first_seen
            assert verification.live_at is not None
            if path is None or first_seen < verification.live_at:
                continue
            caused.append(anomaly.fingerprint)
            facts = {
                "commit_sha": verification.commit_sha,
                "fingerprint": anomaly.fingerprint,
                "summary": anomaly.summary or anomaly.template,
                "frame": f"{path}:{frame.line} in {frame.function}",
                "first_seen": first_seen,
                "count": anomaly.count,
            }
            self._audit("probably_caused", verification, facts)
            self._tell(verification, "probably_caused", facts)
        return verification.model_copy(update={"caused": caused})

    def _judge(self, verification: Verification) -> None:
        """The window is over: verified with no event in it, else regressed."""
        outcome = "verified" if verification.count_after == 0 else "regressed"
        done = self.verifications.save(
            verification.model_copy(
                update={"phase": "done", "outcome": outcome, "finished_at": self.clock()}
            )
        )
        if done is None:
            return  # another process judged it
        facts = done.facts()
        if outcome == "regressed":
            facts["cause"] = "still_seen"
        status = ProposalStatus.VERIFIED if outcome == "verified" else ProposalStatus.REGRESSED
        proposal = self._transition(done, status, facts)
        if proposal is None:
            return
        self.notifier.post_event(proposal, ProposalEvent(kind=outcome, details=facts))
        if outcome == "regressed":
            why = (
                f"still seen {done.count_after} time(s) in the {self.window_seconds:g} s "
                f"after deploy {done.commit_sha[:12]} went live"
            )
            if self.auto_revert is not None:
                self.auto_revert.after(proposal, cause="regressed", reason=why)

    # --- helpers ------------------------------------------------------------------------------
    def _still_applied(self, verification: Verification) -> Verification | None:
        """The verification, or None after stopping it: its proposal left ``applied``."""
        status = self.store.get(verification.proposal_id).status
        if status is ProposalStatus.APPLIED:
            return verification
        done = verification.model_copy(
            update={"phase": "done", "outcome": "stopped", "finished_at": self.clock()}
        )
        if self.verifications.save(done) is not None:
            self._audit("verification_stopped", done, {**done.facts(), "status": status.value})
        return None

    def _transition(
        self, verification: Verification, status: ProposalStatus, facts: dict[str, Any]
    ) -> FixProposal | None:
        try:
            return self.store.transition(
                verification.proposal_id,
                status,
                actor=SYSTEM_ACTOR,
                expected={ProposalStatus.APPLIED},
                details=facts,
            )
        except InvalidTransition:  # reverted by a person meanwhile: nothing to judge
            stopped = verification.model_copy(update={"outcome": "stopped"})
            self.verifications.save(stopped)
            return None

    def _audit(self, action: str, verification: Verification, facts: dict[str, Any]) -> None:
        self.store.audit(
            actor=SYSTEM_ACTOR, action=action, proposal_id=verification.proposal_id, details=facts
        )

    def _tell(self, verification: Verification, kind: Any, facts: dict[str, Any]) -> None:
        proposal = self.store.get(verification.proposal_id)
        self.notifier.post_event(proposal, ProposalEvent(kind=kind, details=facts))


def _safe(error: BaseException) -> str:
    return scrub_secrets(str(error) or type(error).__name__)[:300]
