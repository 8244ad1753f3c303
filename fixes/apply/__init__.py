"""Fixes apply: an approved proposal applied to the service's checkout as one transaction.

implementor.py  FixImplementor: lock, preflight, backup, write, validate, commit, push
journal.py      write-ahead journal, byte-exact backups, the checkout's apply lock
gitops.py       the git operations (GitPython), tokens scrubbed
validation.py   compile, import and VALIDATE_COMMAND checks
delivery.py     MENDBOT_DELIVERY: push to GIT_BRANCH, or a branch and a pull request
pull_request_text.py  the pull request's title and body, untrusted text defused
github.py       GitHubClient: open, find and follow pull requests (REST, retried)
revert.py       undoing a pushed fix: ``git revert`` as the same kind of transaction
history.py      what a pushed commit changed, and what reverting it would write today
"""
