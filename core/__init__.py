"""Shared contracts: the types and rules every stage passes on; imports no stage.

models.py     LogRecord, Frame, Anomaly, Diagnosis, Level, Severity
proposals.py  FixProposal, Edit, Evidence, Risk, ProposalStatus and TRANSITIONS, AuditEvent,
              TrackRecord (how earlier fixes of its kind ended; calibrated confidence)
policy.py     EditPolicy: protected paths (MENDBOT_PROTECTED_PATHS), caps, rewrite limits
edits.py      path and text rules of one edit set (check_edits), and its diff
evidence.py   whether a frame, emitter or definition agrees with the code (locate, recheck)
rewrites.py   the share of a file or function an edit set removes (check_rewrite)
risk.py       risky constructs an edit set adds or removes, named (risk_reasons)
review.py     the whole review, at proposal time and again before writing (review_change)
verification.py  Verification (following a pushed fix), DeployCheck
actions.py    Action (restart, redeploy, rollback, container restart, command), TrustLevel
notifier.py   the Notifier protocol, ProposalEvent; Null, InMemory and Log notifiers
redact/       secret masking with stable placeholders (scrub_secrets, Redactor,
              mask_anomaly, mask_proposal): formats, context rules, encoded forms
frames.py     which traceback frame is the application's (app_frame)
state.py      the KeyValueStore protocol stages keep cursors and baselines in
clock.py      utcnow(): aware UTC; parse_retry_after(): an HTTP Retry-After in seconds
metrics.py    Metrics: mendbot's own health for GET /metrics (prometheus-client)
"""
