"""Shared contracts: the types and rules every stage passes on; imports no stage.

models.py     LogRecord, Frame, Anomaly, Diagnosis, Level, Severity
proposals.py  FixProposal, Edit, Risk, ProposalStatus and TRANSITIONS, AuditEvent
actions.py    Action (restart, redeploy, rollback, container restart, command), TrustLevel
edits.py      whether an edit may touch the repository (check_edits), and its diff
notifier.py   the Notifier protocol, ProposalEvent; Null, InMemory and Log notifiers
redact.py     secret masking with stable placeholders (scrub_secrets, Redactor)
frames.py     which traceback frame is the application's (app_frame)
state.py      the KeyValueStore protocol stages keep cursors and baselines in
clock.py      utcnow(): aware UTC
metrics.py    Metrics: mendbot's own health for GET /metrics (prometheus-client)
"""
