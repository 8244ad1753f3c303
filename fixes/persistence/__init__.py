"""Fixes persistence: one database (SQLite or PostgreSQL) as the source of truth.

db.py       engine, schema and the sqlmodel tables; aware-UTC timestamps
store.py    ProposalStore: proposals, compare-and-set transitions, anomaly totals, audit
ids.py      proposal ids that never run out (fix_YYYYMMDD_HHMMSS[_N])
errors.py   the errors the stores raise (StoreError, DatabaseUnusable, ...)
anomalies.py  running totals of every anomaly fingerprint ever seen
state.py    StateStore: small JSON values and once-only keys
at_rest.py  mask_at_rest: rows an older mendbot stored in clear, masked once
verifications.py  VerificationStore: following each pushed fix to production
outcomes.py       FixOutcomes: how code fixes ended, derived from status and audit trail
programs.py       ProgramStore: compiled diagnosis programs (``mendbot learn``)
"""
