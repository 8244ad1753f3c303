"""Fixes: what happens to a proposal once it exists: storage, decisions, applying it.

    persistence/  the database: proposals and their state machine, audit trail, state
    apply/        FixImplementor: backup, apply, validate, commit, push, or roll back
    actions/      operational actions: runbook, trust, executors, breaker, verification
    decisions.py  approve / implement / reject / expire / recover / revert, shared by
                  Slack and CLI
    interrupted.py  what a killed process left approved/applying, and its outcome
    revert.py     undoing a pushed fix: checks, the implementor's revert, the record
    refusals.py   DecisionRefused, the one error a decision raises, and its common forms
    pull_requests.py  PullRequestFollower: a fix's pull request merged -> applied,
                  closed -> rejected (MENDBOT_DELIVERY=pull_request)

Imports ``core`` and ``settings`` only: it never imports ``monitoring`` or ``bot``.
"""
