"""Fixes apply: an approved proposal applied to the service's checkout as one transaction.

implementor.py  FixImplementor: lock, preflight, then the transaction; revert and recovery
contract.py     what decisions rely on: the ``Implementor`` protocol, ApplyOutcome, RevertOutcome
transaction.py  ApplyTransaction: backup, write, validate, prove, commit, deliver, or roll back
rollback.py     the one way back to where a journaled transaction started
journal.py      write-ahead journal, byte-exact backups, the checkout's apply lock
recovery.py     at start: finish what a killed process left on the checkout
gitops.py       the git operations (GitPython), tokens scrubbed
validation.py   compile, import and VALIDATE_COMMAND checks
proof.py        the regression test: fails on the unfixed tree, passes on the fixed one
commit_message.py  the fix commit's message and trailers, untrusted text defused
delivery.py     MENDBOT_DELIVERY: push to GIT_BRANCH, or a branch and a pull request
pull_request_text.py  the pull request's title and body, untrusted text defused
github.py       GitHubClient: open, find and follow pull requests (REST, retried)
revert.py       undoing a pushed fix: ``git revert`` as the same kind of transaction
history.py      what a pushed commit changed, and what reverting it would write today
"""
