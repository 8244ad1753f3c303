"""Fixes actions: operational remedies (restart, redeploy, rollback, cleanup) as proposals.

    runbook.py    which action answers which anomaly (kinds, alert names), the default one
    trust.py      trust levels per action kind under the MENDBOT_REMEDIATION switch
    errors.py     the ActionError tree (refused, unavailable = queued and retried, failed)
    executors.py  the Executor protocol and CommandExecutor (a configured command)
    railway.py    RailwayExecutor: deploymentRestart, serviceInstanceRedeploy, deploymentRollback
    docker.py     DockerExecutor: a container restart through the Docker Engine API
    runs.py       ActionRuns: one row per action: queue, verification watch, outcome
    runner.py     ActionRunner: the breaker, self-protection, executors, verification
    flow.py       ActionFlow: an action proposal through approve / execute / retry / verify

Imports ``core``, ``settings``, ``fixes.persistence`` and ``fixes.apply.contract`` only.
"""
