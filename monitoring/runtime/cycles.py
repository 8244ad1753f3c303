"""Composition root, the cycles: the pipeline, deploy following, verification, pull
requests, the monitor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from core.proposals import FixProposal
from fixes.persistence.programs import ProgramStore
from fixes.persistence.verifications import VerificationStore
from fixes.pull_requests import DeliveredHook, PullRequestFollower
from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.auto_revert import AutoReverter
from monitoring.deploys import DeployFollower, WaitDeploys
from monitoring.learning import ProgramLoader
from monitoring.monitor import ProactiveMonitor
from monitoring.pipeline import CyclePipeline
from monitoring.runtime.inputs import (
    SOURCE_HTTP_TIMEOUT_SECONDS,
    build_diagnoser,
    build_source,
    prometheus_context,
)
from monitoring.runtime.root import Runtime
from monitoring.sources.railway_api import RailwayAPI
from monitoring.sources.railway_deploys import RailwayDeploys
from monitoring.verification import Verifier
from settings import Settings, secret_value


def build_pipeline(
    runtime: Runtime,
    *,
    diagnose: bool = True,
    verifier: Verifier | None = None,
    program: Callable[[], Any] | None = None,
) -> CyclePipeline:
    """One cycle's core over the runtime's stores: ``LogAnalyzer`` (its baseline in the
    state store, ``MENDBOT_SLOW_THRESHOLD_SECONDS``) and the diagnoser, with
    ``MENDBOT_COOLDOWN_SECONDS`` after a rejection and at most
    ``MENDBOT_MAX_PROPOSALS_PER_CYCLE`` new proposals posted a cycle.

    Args:
        runtime: the process runtime (stores and notifier).
        diagnose: False = only find anomalies (``mendbot scan --no-diagnose``).
        verifier: follows pushed fixes through the cycles (the monitor's); None for a
            one-off scan, whose records need not be the service's latest.
        program: the compiled diagnosis program; default with ``MENDBOT_LM``: the newest
            one ``mendbot learn`` saved in the runtime's database, looked up before each
            LM diagnosis (:class:`~monitoring.learning.ProgramLoader`).
    """
    settings, state = runtime.settings, runtime.state
    if program is None and settings.lm:
        program = ProgramLoader(ProgramStore(runtime.db))
    return CyclePipeline(
        analyzer=LogAnalyzer(state=state, slow_threshold_seconds=settings.slow_threshold_seconds),
        diagnoser=build_diagnoser(settings, state=state, metrics=runtime.metrics, program=program)
        if diagnose
        else None,
        store=runtime.store,
        notifier=runtime.notifier,
        cooldown_seconds=settings.cooldown_seconds,
        max_posts_per_cycle=settings.max_proposals_per_cycle,
        verifier=verifier,
        context=prometheus_context(settings),
        recent=runtime.recent,
        history=runtime.fix_history,
    )


def build_deploys(settings: Settings) -> DeployFollower:
    """Railway's ``deployments`` when ``RAILWAY_ENVIRONMENT_ID``, ``RAILWAY_SERVICE_ID`` and
    a token are set (whatever the log source), else a wait of
    ``MENDBOT_DEPLOY_WAIT_SECONDS`` after the push."""
    token = secret_value(settings.railway_api_token)
    project = secret_value(settings.railway_token)
    ids = settings.railway_environment_id and settings.railway_service_id
    if not (ids and (token or project)):
        return WaitDeploys(wait_seconds=settings.deploy_wait_seconds)
    api = RailwayAPI(
        client=httpx.Client(timeout=SOURCE_HTTP_TIMEOUT_SECONDS),
        api_url=settings.railway_api_url,
        api_token=token,
        project_token=project,
    )
    return RailwayDeploys(
        api=api,
        environment_id=str(settings.railway_environment_id),
        service_id=str(settings.railway_service_id),
    )


def build_verifier(runtime: Runtime) -> Verifier:
    """The verifier of pushed fixes: :func:`build_deploys`, a window of
    ``MENDBOT_VERIFY_WINDOW_SECONDS`` of log time, ``MENDBOT_AUTO_REVERT`` through the
    runtime's decisions, and the fix's changed lines from the checkout (when there is one)."""
    settings = runtime.settings
    implementor = runtime.implementor
    return Verifier(
        store=runtime.store,
        verifications=VerificationStore(runtime.db),
        notifier=runtime.notifier,
        deploys=build_deploys(settings),
        window_seconds=settings.verify_window_seconds,
        auto_revert=AutoReverter(
            policy=settings.auto_revert,
            reverter=runtime.decisions,
            claim_once=runtime.state.claim_once,
            store=runtime.store,
            notifier=runtime.notifier,
        ),
        changed_lines=implementor.changed_lines if implementor is not None else None,
    )


def build_follower(
    runtime: Runtime, *, on_delivered: DeliveredHook | None = None
) -> PullRequestFollower | None:
    """The follower of fixes' pull requests when ``MENDBOT_DELIVERY=pull_request``, else None.

    Args:
        runtime: the process runtime (store, notifier, GitHub client).
        on_delivered: called with ``(proposal, merge commit sha)`` once a merge is
            recorded: where deploy tracking plugs in.
    """
    if runtime.github is None:
        return None
    return PullRequestFollower(
        store=runtime.store,
        notifier=runtime.notifier,
        github=runtime.github,
        on_delivered=on_delivered,
    )


def build_monitor(
    runtime: Runtime, *, on_delivered: DeliveredHook | None = None
) -> ProactiveMonitor:
    """The monitor over the configured source (None when ``none``: status and health
    still answer) every ``MONITOR_INTERVAL_SECONDS``, following pushed fixes to production
    and, with pull-request delivery, fixes' pull requests each cycle (a merged one is
    followed to production like a pushed fix).

    Args:
        runtime: the process runtime.
        on_delivered: see :func:`build_follower`; default: the verifier starts following
            the merge commit's deploy.

    Raises:
        LogSourceError: the chosen source lacks a setting.
    """
    verifier = build_verifier(runtime)
    if on_delivered is None:

        def on_delivered(proposal: FixProposal, commit_sha: str) -> None:
            verifier.track(proposal, commit_sha)

    return ProactiveMonitor(
        pipeline=build_pipeline(runtime, verifier=verifier),
        source=build_source(runtime.settings, state=runtime.state),
        notifier=runtime.notifier,
        decisions=runtime.decisions,
        db=runtime.db,
        pull_requests=build_follower(runtime, on_delivered=on_delivered),
        interval_seconds=runtime.settings.monitor_interval_seconds,
        metrics=runtime.metrics,
    )
