"""Monitoring: from the service's logs to stored, posted fix proposals.

Stages (each imports only ``core`` and ``settings``, sources also ``parsing``)::

    parsing/      raw lines -> LogRecord (formats, tracebacks, robust file reading)
    sources/      where logs come from: Railway, Loki, a file, a command, memory
    analysis/     LogRecords -> Anomaly (templates, evidence, the five rules)
    diagnosis/    Anomaly -> FixProposal (DSPy LM or offline playbooks, edit review)
    signals/      Alertmanager alerts, health checks, Prometheus figures -> Signals

Orchestration over the stages (may import ``fixes``)::

    pipeline.py          one cycle: analyze, dedupe, diagnose, store, notify
    recent.py            RecentRecords: the last records read (logs around an alert)
    verification.py      Verifier: after a push, follow the deploy, judge the fix, revert
    watch.py             counting a watched fingerprint's events in a cycle's records
    deploys.py           DeployFollower: Railway's deployments, or a fixed wait
    auto_revert.py       MENDBOT_AUTO_REVERT: revert a failed or regressed fix, once
    fix_history.py       FixHistory: earlier fixes' outcomes calibrate new ones; the fix
                         breaker per fingerprint (resume fix proposals for <fingerprint>)
    learning.py          mendbot learn: verified fixes -> labelled examples -> a compiled
                         diagnosis program in the database; ProgramLoader for the diagnoser
    monitor.py           ProactiveMonitor: cycles on an APScheduler job
    monitor_state.py     its health: failures, alerts, the adaptive interval
    status.py            MonitorStatus and MonitorControl, what the bot may ask
    runtime/             the composition root: every object built from Settings
    operations.py        signals in, actions out: the webhook, health checks, action queue
    signal_proposals.py  the proposal a signal gets: its diagnosis and runbook action
    proactive_monitor.py start_monitoring() for a REPL
    scratch.py           a scratch git copy with a bare remote (``scan --repo``, ``eval``)

Above the orchestration (drives scan and implement, as a person would)::

    evaluation/          the fix evaluation behind ``mendbot eval``: cases, oracles, report
"""
