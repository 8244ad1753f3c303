"""Fixes persistence: one database (SQLite or PostgreSQL) as the source of truth.

db.py             engine, schema and the sqlmodel tables; aware-UTC timestamps
store.py          ProposalStore: proposals, compare-and-set transitions, anomaly totals, audit
state.py          StateStore: small JSON values and once-only keys
verifications.py  VerificationStore: following each pushed fix to production
"""
