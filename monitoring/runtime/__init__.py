"""Composition root: every long-lived object of a process, built from ``Settings`` here only.

Each constructor below this module takes keyword arguments for exactly what it needs; this
module is the one place that reads :class:`~settings.Settings` to supply them. Every entry
point (``mendbot scan``, ``run``, ``fixes``, ``start_monitoring`` in a REPL) starts with
:func:`build_runtime`, which opens the database (creating the schema, masking rows an
older mendbot stored in clear) and recovers a fix that a killed process left half applied,
before anything else runs. The Slack surfaces
(``bot/``) are built on top of the runtime by the process that serves them.

Modules: ``root`` (Runtime, build_runtime), ``applying`` (implementor, GitHub,
delivery, edit policy), ``inputs`` (log source, Prometheus, diagnoser), ``cycles`` (pipeline,
deploys, verifier, pull requests, monitor), ``actions`` (executors, runner, trust),
``operations`` (alerts, health checks). Everything is importable from here.

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

from monitoring.runtime.actions import build_action_runner, trust_policy
from monitoring.runtime.applying import build_delivery, build_github, build_implementor, edit_policy
from monitoring.runtime.cycles import (
    build_deploys,
    build_follower,
    build_monitor,
    build_pipeline,
    build_verifier,
)
from monitoring.runtime.inputs import (
    SOURCES,
    build_diagnoser,
    build_source,
    lm_config,
    prometheus_context,
)
from monitoring.runtime.operations import build_operations
from monitoring.runtime.root import Runtime, build_runtime

__all__ = [
    "SOURCES",
    "Runtime",
    "build_action_runner",
    "build_delivery",
    "build_deploys",
    "build_diagnoser",
    "build_follower",
    "build_github",
    "build_implementor",
    "build_monitor",
    "build_operations",
    "build_pipeline",
    "build_runtime",
    "build_source",
    "build_verifier",
    "edit_policy",
    "lm_config",
    "prometheus_context",
    "trust_policy",
]
