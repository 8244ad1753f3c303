"""Fixes: what happens to a proposal once it exists: storage, decisions, applying it.

    persistence/  the database: proposals and their state machine, audit trail, state
    apply/        FixImplementor: backup, apply, validate, commit, push, or roll back
    actions/      operational actions: runbook, trust, executors, breaker, verification
    decisions.py  approve / implement / reject / expire / recover, shared by Slack and CLI

Imports ``core`` and ``settings`` only: it never imports ``monitoring`` or ``bot``.
"""
