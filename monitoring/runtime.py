"""Composition root: every long-lived object of a process, built from ``Settings`` here only.

Each constructor below this module takes keyword arguments for exactly what it needs; this
module is the one place that reads :class:`~settings.Settings` to supply them. Every entry
point (``mendbot scan``, ``run``, ``fixes``, ``start_monitoring`` in a REPL) starts with
:func:`build_runtime`, which opens the database (creating the schema, masking rows an
older mendbot stored in clear) and recovers a fix that a killed process left half applied,
before anything else runs. The Slack surfaces
(``bot/``) are built on top of the runtime by the process that serves them.

Builders::

    build_runtime(settings, notifier)   database, stores, implementor, decisions; recovery
    build_implementor(settings, github) FixImplementor for TARGET_REPO_PATH, or None
    build_github(settings)              GitHubClient when MENDBOT_DELIVERY=pull_request
    build_delivery(github)              PullRequestDelivery with a client, else PushDelivery
    edit_policy(settings)               EditPolicy from MENDBOT_PROTECTED_PATHS
    lm_config(settings)                 LMConfig from MENDBOT_LM / OPENAI_*, or None
    build_diagnoser(settings, state)    Diagnoser (LM or offline playbooks)
    build_source(settings, state)       the configured log source with its cursor, or None
    build_pipeline(runtime)             analyzer + diagnoser + stores: one cycle's core
    build_follower(runtime, hook)       PullRequestFollower with a GitHub client, else None
    build_deploys(settings)             Railway's deployments, or MENDBOT_DEPLOY_WAIT_SECONDS
    build_verifier(runtime)             follows pushed fixes: deploy, window, auto-revert
    build_monitor(runtime, hook)        the scheduled monitor over the configured source
    build_action_runner(settings, ...)  executors (Railway, Docker, commands), the breaker
    build_operations(runtime, pipeline) alerts, health checks, actions: the operations half
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.metrics import Metrics
from core.models import Anomaly
from core.notifier import Notifier, NullNotifier
from core.policy import DEFAULT_PROTECTED_PATHS, EditPolicy
from core.proposals import FixProposal
from core.state import KeyValueStore
from fixes.actions.docker import DockerExecutor, own_container_ids
from fixes.actions.executors import CommandExecutor, Executor
from fixes.actions.railway import RailwayExecutor
from fixes.actions.runbook import Runbook, load_runbook
from fixes.actions.runner import ActionRunner
from fixes.actions.runs import ActionRuns
from fixes.actions.trust import TrustPolicy
from fixes.apply.delivery import Delivery, PullRequestDelivery, PushDelivery
from fixes.apply.github import GitHubClient
from fixes.apply.implementor import FixImplementor
from fixes.decisions import Decisions
from fixes.persistence.at_rest import mask_at_rest
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from fixes.persistence.verifications import VerificationStore
from fixes.pull_requests import DeliveredHook, PullRequestFollower
from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.auto_revert import AutoReverter
from monitoring.deploys import DeployFollower, WaitDeploys
from monitoring.diagnosis import Diagnoser
from monitoring.diagnosis.config import LMConfig
from monitoring.monitor import ProactiveMonitor
from monitoring.operations import Operations
from monitoring.pipeline import CyclePipeline, RecentRecords
from monitoring.signal_proposals import SignalProposer
from monitoring.signals.health import HealthWatch
from monitoring.signals.prometheus import PrometheusContext, PrometheusError
from monitoring.sources import (
    CommandSource,
    CursoredSource,
    FileSource,
    LogSource,
    LogSourceError,
    LokiSource,
    RailwaySource,
)
from monitoring.sources.railway_api import RailwayAPI
from monitoring.sources.railway_deploys import RailwayDeploys
from monitoring.verification import Verifier
from settings import Settings, process_environment, secret_value, service_environment

#: Seconds each request to a log source's HTTP API may take.
SOURCE_HTTP_TIMEOUT_SECONDS = 30.0
#: Seconds each request to GitHub's REST API may take.
GITHUB_HTTP_TIMEOUT_SECONDS = 30.0
#: Seconds each request to Railway's API for an action, or to Prometheus, may take.
ACTION_HTTP_TIMEOUT_SECONDS = 20.0
#: Where the Docker Engine listens when DOCKER_HOST is unset.
DOCKER_SOCKET = Path("/var/run/docker.sock")


@dataclass
class Runtime:
    """Everything a process needs to watch logs and decide on proposals.

    Attributes:
        settings: the process settings.
        db: the one database (engine and schema) of the process.
        store: proposals, anomalies seen, audit trail.
        state: small JSON values and once-only keys.
        implementor: applies fixes to ``TARGET_REPO_PATH``; None when it is unset.
        decisions: approve / execute / implement / reject / expire / recover.
        notifier: where progress is told. To swap it after construction (e.g. once the
            Slack app exists) call :meth:`with_notifier`, which updates ``decisions`` too.
        recovered: proposals whose status start-up recovery changed.
        github: the GitHub client of pull-request delivery (``MENDBOT_DELIVERY``), or None.
        runbook: which action answers which anomaly (``MENDBOT_RUNBOOK`` or the default).
        recent: the last log records read (the logs around an alert).
        metrics: the process's own metrics (``GET /metrics``).
    """

    settings: Settings
    db: Database
    store: ProposalStore
    state: StateStore
    implementor: FixImplementor | None
    decisions: Decisions
    notifier: Notifier
    recovered: list[FixProposal]
    github: GitHubClient | None = None
    runbook: Runbook | None = None
    recent: RecentRecords | None = None
    metrics: Metrics | None = None

    def with_notifier(self, notifier: Notifier) -> Runtime:
        """Tell ``notifier`` from now on (here and in ``decisions``); returns self."""
        self.notifier = notifier
        self.decisions.notifier = notifier
        return self

    def close(self) -> None:
        """Release the database connections (and the GitHub client's)."""
        self.db.dispose()
        if self.github is not None:
            self.github.client.close()


def build_runtime(
    settings: Settings, *, notifier: Notifier | None = None, metrics: Metrics | None = None
) -> Runtime:
    """Open the database (masking rows an older mendbot stored in clear), build the
    implementor and decisions, and recover first.

    Args:
        settings: the process settings.
        notifier: told about every step, recovery included; default
            :class:`~core.notifier.NullNotifier`.
        metrics: the process's metrics (default: new ones, on a registry of their own);
            proposals by status and actions by result are read from this database.

    Returns:
        The runtime, with any interrupted fix already rolled back (see ``recovered``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or created.
        fixes.apply.journal.JournalError: an interrupted fix's journal cannot be read.
        fixes.actions.runbook.RunbookError: ``MENDBOT_RUNBOOK`` is unreadable or invalid.
    """
    runbook = load_runbook(settings.runbook_path)
    db = Database(settings.database_url)
    mask_at_rest(db)
    store = ProposalStore(db)
    state = StateStore(db)
    notifier = notifier if notifier is not None else NullNotifier()
    github = build_github(settings)
    implementor = build_implementor(settings, github=github)
    decisions = Decisions(
        store=store,
        notifier=notifier,
        implementor=implementor,
        proposal_ttl_seconds=settings.proposal_ttl_seconds,
        actions=build_action_runner(settings, db=db, state=state, runbook=runbook),
    )
    recovered = decisions.recover()
    if decisions.action_flow is not None:
        recovered += decisions.action_flow.recover()
    metrics = metrics or Metrics()
    runs = decisions.actions.runs if decisions.actions is not None else None
    metrics.watch_database(proposals=store.count_by_status, actions=runs.counts if runs else None)
    return Runtime(
        settings=settings,
        db=db,
        store=store,
        state=state,
        implementor=implementor,
        decisions=decisions,
        notifier=notifier,
        recovered=recovered,
        github=github,
        runbook=runbook,
        recent=RecentRecords(),
        metrics=metrics,
    )


def edit_policy(settings: Settings) -> EditPolicy:
    """The edit policy both the diagnoser and the implementor judge edits by:
    ``MENDBOT_PROTECTED_PATHS`` when set, else the default protected paths."""
    patterns = settings.protected_paths
    return EditPolicy(
        protected=tuple(patterns) if patterns is not None else DEFAULT_PROTECTED_PATHS
    )


def build_implementor(
    settings: Settings, *, github: GitHubClient | None = None
) -> FixImplementor | None:
    """The implementor for ``TARGET_REPO_PATH`` (git remote and branch, ``VALIDATE_*``, the
    commit identity, the delivery, the edit policy); None when no repository is set.

    Args:
        settings: the process settings.
        github: the client of pull-request delivery (:func:`build_github`); None pushes
            to ``GIT_BRANCH``.
    """
    if settings.target_repo_path is None:
        return None
    return FixImplementor(
        repo_path=settings.target_repo_path,
        remote=settings.git_remote,
        branch=settings.git_branch,
        validate_command=settings.validate_command,
        validate_timeout_seconds=settings.validate_timeout_seconds,
        test_command=settings.test_command,
        author_name=settings.git_author_name,
        author_email=settings.git_author_email,
        service_environment=service_environment(),
        delivery=build_delivery(github),
        policy=edit_policy(settings),
    )


def build_github(settings: Settings) -> GitHubClient | None:
    """The GitHub client for ``GITHUB_REPOSITORY`` at ``GITHUB_API_URL`` with
    ``GITHUB_TOKEN``, when ``MENDBOT_DELIVERY=pull_request``; else None (the settings
    validator has already refused a pull-request delivery without a token or repository)."""
    if settings.delivery != "pull_request":
        return None
    return GitHubClient(
        # GitHub answers a renamed repository's GETs with 301 to the new name.
        client=httpx.Client(timeout=GITHUB_HTTP_TIMEOUT_SECONDS, follow_redirects=True),
        api_url=settings.github_api_url,
        token=secret_value(settings.github_token) or "",
        repository=settings.github_repository or "",
    )


def build_delivery(github: GitHubClient | None) -> Delivery:
    """Pull requests through ``github`` when there is a client, else a push to
    ``GIT_BRANCH``."""
    return PullRequestDelivery(github=github) if github is not None else PushDelivery()


def lm_config(settings: Settings) -> LMConfig | None:
    """The diagnosis LM from ``MENDBOT_LM``, ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``,
    ``MENDBOT_LM_TIMEOUT_SECONDS``, ``MENDBOT_LM_MAX_RETRIES``, ``MENDBOT_LM_MAX_TOKENS`` and
    ``MENDBOT_LM_ADAPTER``; None when no model is set."""
    if not settings.lm:
        return None
    return LMConfig(
        model=settings.lm,
        api_key=secret_value(settings.openai_api_key),
        base_url=settings.openai_base_url,
        timeout_seconds=settings.lm_timeout_seconds,
        max_retries=settings.lm_max_retries,
        max_tokens=settings.lm_max_tokens,
        adapter=settings.lm_adapter,
    )


def build_diagnoser(
    settings: Settings, *, state: KeyValueStore | None = None, metrics: Metrics | None = None
) -> Diagnoser:
    """The diagnoser: the LM when configured (else offline playbooks), the repository's
    code as evidence, at most ``MENDBOT_MAX_DIAGNOSES_PER_CYCLE`` LM diagnoses a cycle.

    Args:
        settings: the process settings.
        state: keeps the LM diagnosis cache across restarts; None keeps it in memory.
        metrics: counts LM requests, tokens and seconds.
    """
    diagnoser = Diagnoser(
        lm=lm_config(settings),
        repo_path=settings.target_repo_path,
        max_lm_diagnoses=settings.max_diagnoses_per_cycle,
        state=state,
        policy=edit_policy(settings),
        lm_only=settings.lm_only,
    )
    if metrics is not None:
        diagnoser.on_lm = lambda requests, tokens_in, tokens_out, seconds, ok: metrics.lm(
            requests=requests,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            seconds=seconds,
            ok=ok,
        )
    return diagnoser


def _railway(settings: Settings) -> LogSource:
    if not (settings.railway_environment_id and settings.railway_service_id):
        raise LogSourceError("Railway needs RAILWAY_ENVIRONMENT_ID and RAILWAY_SERVICE_ID")
    return RailwaySource(
        client=httpx.Client(timeout=SOURCE_HTTP_TIMEOUT_SECONDS),
        api_url=settings.railway_api_url,
        environment_id=settings.railway_environment_id,
        service_id=settings.railway_service_id,
        api_token=secret_value(settings.railway_api_token),
        project_token=secret_value(settings.railway_token),
    )


def _loki(settings: Settings) -> LogSource:
    if not settings.loki_url:
        raise LogSourceError("the Loki source needs LOKI_URL")
    return LokiSource(
        client=httpx.Client(timeout=SOURCE_HTTP_TIMEOUT_SECONDS),
        base_url=settings.loki_url,
        query=settings.loki_query or "",
        token=secret_value(settings.loki_token),
    )


def _file(settings: Settings) -> LogSource:
    if settings.log_file is None:
        raise LogSourceError("the file source needs MENDBOT_LOG_FILE")
    return FileSource(path=settings.log_file)


def _command(settings: Settings) -> LogSource:
    return CommandSource(command=settings.log_command or "", environment=process_environment())


#: Every log source that ``MENDBOT_LOG_SOURCE`` (or ``Settings.effective_log_source``) can
#: choose, with the builder that reads its variables.
SOURCES: dict[str, Callable[[Settings], LogSource]] = {
    "railway": _railway,
    "loki": _loki,
    "file": _file,
    "command": _command,
}


def build_source(settings: Settings, *, state: KeyValueStore) -> CursoredSource | None:
    """The configured log source with its cursor in ``state``, or None when none is set.

    Returns:
        A :class:`~monitoring.sources.CursoredSource` (``fetch()`` / ``commit(batch)`` /
        ``check()`` / ``close()``), or None for ``"none"``.

    Raises:
        LogSourceError: the chosen source lacks a setting (the message names it).
    """
    name = settings.effective_log_source
    if name == "none":
        return None
    return CursoredSource(SOURCES[name](settings), state=state)


def build_pipeline(
    runtime: Runtime, *, diagnose: bool = True, verifier: Verifier | None = None
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
    """
    settings, state = runtime.settings, runtime.state
    return CyclePipeline(
        analyzer=LogAnalyzer(state=state, slow_threshold_seconds=settings.slow_threshold_seconds),
        diagnoser=build_diagnoser(settings, state=state, metrics=runtime.metrics)
        if diagnose
        else None,
        store=runtime.store,
        notifier=runtime.notifier,
        cooldown_seconds=settings.cooldown_seconds,
        max_posts_per_cycle=settings.max_proposals_per_cycle,
        verifier=verifier,
        context=prometheus_context(settings),
        recent=runtime.recent,
    )


def prometheus_context(settings: Settings) -> Callable[[Anomaly], Anomaly] | None:
    """Adds Prometheus' figures around an anomaly to its ``details["metrics"]``
    (``PROMETHEUS_URL``, ``MENDBOT_PROMETHEUS_QUERIES``, ``MENDBOT_PROMETHEUS_WINDOW_SECONDS``);
    None without ``PROMETHEUS_URL``. A Prometheus failure leaves ``metrics_error`` instead."""
    if not settings.prometheus_url:
        return None
    context = PrometheusContext(
        client=httpx.Client(timeout=ACTION_HTTP_TIMEOUT_SECONDS),
        base_url=settings.prometheus_url,
        queries=settings.prometheus_queries,
        window_seconds=settings.prometheus_window_seconds,
    )

    def enrich(anomaly: Anomaly) -> Anomaly:
        try:
            figures: dict[str, object] = {
                "metrics": context.around(anomaly.first_seen, anomaly.last_seen)
            }
        except PrometheusError as error:
            figures = {"metrics_error": str(error)}
        return anomaly.model_copy(update={"details": {**anomaly.details, **figures}})

    return enrich


def build_action_runner(
    settings: Settings, *, db: Database, state: KeyValueStore, runbook: Runbook
) -> ActionRunner | None:
    """The runner of operational actions, or None with ``MENDBOT_REMEDIATION=off``.

    Executors: Railway (with a Railway token; mendbot's own service known from
    ``MENDBOT_SELF_SERVICE_ID``, ``RAILWAY_DEPLOYMENT_ID`` and ``RAILWAY_SERVICE_NAME``),
    Docker (with ``DOCKER_HOST`` or a socket at ``/var/run/docker.sock``; mendbot's own
    container from ``MENDBOT_SELF_CONTAINER``, the host name and ``/proc/self/cgroup``),
    and the runbook's commands.
    """
    if settings.remediation == "off":
        return None
    executors: dict[str, Executor] = {}
    token, project = secret_value(settings.railway_api_token), secret_value(settings.railway_token)
    if token or project:
        railway = RailwayExecutor(
            client=httpx.Client(timeout=ACTION_HTTP_TIMEOUT_SECONDS),
            api_url=settings.railway_api_url,
            environment_id=settings.railway_environment_id,
            api_token=token,
            project_token=project,
            self_service_ids=frozenset(filter(None, [settings.self_service_id])),
            self_deployment_id=settings.railway_deployment_id,
            self_service_name=settings.railway_service_name,
        )
        executors |= {"restart": railway, "redeploy": railway, "rollback": railway}
    if settings.docker_host or DOCKER_SOCKET.exists():
        own = own_container_ids(socket.gethostname()) | {settings.self_container or ""}
        executors["container_restart"] = DockerExecutor(base_url=settings.docker_host, self_ids=own)
    if runbook.commands:
        executors["command"] = CommandExecutor(
            commands=runbook.commands, environment=service_environment()
        )
    return ActionRunner(
        executors=executors,
        runs=ActionRuns(db),
        state=state,
        verify_seconds=settings.action_verify_seconds,
        breaker_failures=settings.breaker_failures,
        breaker_window_seconds=settings.breaker_window_seconds,
    )


def trust_policy(settings: Settings) -> TrustPolicy:
    """``MENDBOT_REMEDIATION`` over ``MENDBOT_TRUST``."""
    return TrustPolicy(master=settings.remediation, per_kind=settings.trust)  # type: ignore[arg-type]


def build_operations(
    runtime: Runtime, pipeline: CyclePipeline, *, monitoring: bool = True
) -> Operations:
    """The operations half over the runtime: the alert webhook (``MENDBOT_ALERT_TOKEN``),
    health checks (``MENDBOT_HEALTH_*``, thresholds), the runbook under the trust policy,
    and the action queue. Without log ``monitoring`` (no source), its queue job also posts
    again what Slack refused, as the log cycles otherwise do."""
    settings = runtime.settings
    self_names = {settings.self_service_id, settings.railway_service_name, settings.self_container}
    proposer = SignalProposer(
        runbook=runtime.runbook or load_runbook(None),
        trust=trust_policy(settings),
        watched_service_id=settings.railway_service_id,
        self_names=frozenset(n for n in self_names if n),
        recent=runtime.recent,
    )
    health = HealthWatch(
        state=runtime.state,
        slow_seconds=settings.health_slow_seconds,
        memory_percent=settings.memory_threshold_percent,
        disk_percent=settings.disk_threshold_percent,
        failures_to_fire=settings.health_failures,
    )
    metrics = runtime.metrics
    return Operations(
        on_signal=(lambda s: metrics.signal(source=s.source, state=s.state, kind=s.anomaly.kind))
        if metrics
        else None,
        pipeline=pipeline,
        proposer=proposer,
        decisions=runtime.decisions,
        store=runtime.store,
        state=runtime.state,
        notifier=lambda: runtime.notifier,
        alert_token=secret_value(settings.alert_token),
        health=health if settings.health_urls else None,
        health_urls=settings.health_urls,
        health_client=httpx.Client(timeout=settings.health_timeout_seconds),
        health_interval_seconds=settings.health_interval_seconds,
        health_failing_interval_seconds=settings.health_failing_interval_seconds,
        retry_unposted=not monitoring,
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
