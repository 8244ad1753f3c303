"""Fix evaluation: does mendbot propose fixes worth approving? Cases in, figures out.

Orchestration over the whole chain (it drives ``scan`` and ``implement`` exactly as a
person would, through :mod:`monitoring.runtime` and :class:`~fixes.decisions.Decisions`)::

    cases.py    a case folder's ``case.json``: the log, the service, its incidents
    venvs.py    one virtualenv per distinct requirements file, cached between runs
    oracles.py  running a case's oracle tests (one pytest process) and its own tests
    harness.py  one case: fresh repository + bare remote, scan, implement, oracles
    report.py   per-incident rows, the summary, floors, the table

Cases are data: nothing here knows a case's name. ``mendbot eval`` (``bot/cli``) is the
command line over it.
"""
