"""Process entry point: ``mendbot learn [--json] [--optimizer auto|labeled|bootstrap]
[--max-demos N]``: compile the diagnosis program from verified fixes and save it.

See :mod:`monitoring.learning`. Exit codes: 0 a program was saved; 1 no verified fix gave
an example, or compiling failed (nothing saved); 2 bad usage or configuration (no
``TARGET_REPO_PATH``, ``bootstrap`` without ``MENDBOT_LM``, the database cannot be opened).
"""

from __future__ import annotations

import argparse
import json

from bot.cli.support import err, fail, open_database_or_exit, out
from fixes.persistence.programs import ProgramStore
from fixes.persistence.store import ProposalStore
from monitoring.learning import LearnError, LearnResult, NoExamples, learn
from monitoring.runtime import edit_policy, lm_config
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_DEMOS_RANGE = range(1, 17)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot learn``; returns the exit code (0, 1 or 2)."""
    if settings.target_repo_path is None:
        raise fail(
            "learn rebuilds each example from the code before its fix commit: set "
            "TARGET_REPO_PATH to the service's git checkout"
        )
    if args.max_demos not in MAX_DEMOS_RANGE:
        raise fail("--max-demos takes 1 to 16")
    lm = lm_config(settings)
    if args.optimizer == "bootstrap" and lm is None:
        raise fail("--optimizer bootstrap needs an LM: set MENDBOT_LM")
    db = open_database_or_exit(settings)
    try:
        result = learn(
            ProposalStore(db),
            ProgramStore(db),
            repo_path=settings.target_repo_path,
            lm=lm,
            optimizer=args.optimizer,
            max_demos=args.max_demos,
            policy=edit_policy(settings),
        )
    except NoExamples as none:
        raise fail(str(none), EXIT_FAILED) from none
    except LearnError as error:
        raise fail(str(error), EXIT_FAILED) from error
    finally:
        db.dispose()
    _report(result, as_json=args.json)
    return EXIT_OK


def _report(result: LearnResult, *, as_json: bool) -> None:
    saved, examples = result.program, result.examples
    if as_json:
        print(
            json.dumps(
                {
                    "type": "program",
                    "id": saved.id,
                    "optimizer": saved.optimizer,
                    "model": saved.model,
                    "examples": len(examples.rows),
                    "proposal_ids": examples.proposal_ids,
                    "demos": result.demos,
                    "skipped": [{"id": pid, "reason": why} for pid, why in examples.skipped],
                }
            )
        )
        return
    demos = ", ".join(f"{name}: {n}" for name, n in result.demos.items())
    out(
        f"saved compiled diagnosis program #{saved.id}: {saved.optimizer} from "
        f"{len(examples.rows)} verified fix(es) ({demos} demos)"
    )
    for pid, why in examples.skipped:
        err(f"mendbot: skipped {pid}: {why}")
    out("LM diagnoses use it from their next request (MENDBOT_LM; playbooks are not changed)")
