"""Process entry point: the ``mendbot`` command line (scan, run, fixes, eval, stats, learn).

This module only parses arguments, reads the settings once and dispatches; each command
lives in its own module (``bot/cli/scan_command.py``, ``bot/cli/run_command.py``,
``bot/cli/fixes_command.py``, ``bot/cli/eval_command.py``) and returns the process exit code:

====  ==========================================================================
code  meaning
====  ==========================================================================
0     done (a scan that found anomalies is still a success)
1     the action ran and failed (a fix rolled back or failed; ``--fail-on`` hit)
2     bad usage, configuration or input (unreadable file, invalid setting)
3     refused (unknown proposal id, a proposal not in a state that allows it)
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130

_EPILOG = """\
configuration comes from environment variables (see README, "Configuration"), e.g.
  DATABASE_URL        where proposals live (default sqlite:///mendbot.db)
  MENDBOT_LM          LiteLLM model, e.g. openai/gpt-4o-mini (unset: offline playbooks)
  TARGET_REPO_PATH    the service's git checkout that fixes are applied to
  SLACK_BOT_TOKEN, SLACK_CHANNEL, SLACK_APPROVERS   post proposals and take decisions

exit codes: 0 done, 1 action failed, 2 bad usage/config/input, 3 refused, 130 interrupted
"""


def build_parser() -> argparse.ArgumentParser:
    """The full ``mendbot`` argument parser (also used to render ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="mendbot",
        description="Watch a service's logs, propose code fixes, apply them when a person "
        "approves.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_scan(sub)
    _add_run(sub)
    _add_fixes(sub)
    _add_eval(sub)
    _add_stats(sub)
    _add_learn(sub)
    return parser


def _add_stats(sub: argparse._SubParsersAction) -> None:
    stats = sub.add_parser(
        "stats",
        help="what operational actions and code fixes achieved",
        description="Outcomes of restarts, redeploys, rollbacks and cleanups (how often the "
        "signal cleared in time, per action kind and anomaly kind), then of code fixes: "
        "verified of those judged (verified, regressed, reverted, rolled back) per diagnosis "
        "source (playbook or lm:<model>) and anomaly kind, rejections with their reasons, "
        "and the fingerprints whose fixes failed, with their fix breaker.",
        epilog='examples:\n  mendbot stats\n  mendbot stats --json | grep \'"type": "fix"\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    stats.add_argument("--json", action="store_true", help="one JSON object per line")


def _add_learn(sub: argparse._SubParsersAction) -> None:
    learn = sub.add_parser(
        "learn",
        help="compile the diagnosis program from verified fixes",
        description="Every approved fix that was verified after its deploy becomes a labelled "
        "example: the inputs the diagnoser gives the LM (rebuilt from the code before the fix "
        "commit in TARGET_REPO_PATH) and the root cause and edits that were verified. A DSPy "
        "optimizer compiles the diagnosis program with them (LabeledFewShot without an LM; "
        "BootstrapFewShot with MENDBOT_LM, keeping the LM's answers that would have made the "
        "verified change) and the program is saved in the database, secrets masked. LM "
        "diagnoses use the newest saved program from then on (mendbot run picks it up at its "
        "next diagnosis). Exit 1, nothing saved, when no verified fix gives an example.",
        epilog="examples:\n"
        "  TARGET_REPO_PATH=/srv/app mendbot learn\n"
        "  TARGET_REPO_PATH=/srv/app mendbot learn --optimizer labeled --max-demos 2 --json\n"
        "  mendbot eval --program none --json > before.jsonl   # then --program latest",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    learn.add_argument("--json", action="store_true", help="one JSON object on stdout")
    learn.add_argument(
        "--optimizer",
        choices=("auto", "labeled", "bootstrap"),
        default="auto",
        help="auto (default): bootstrap with MENDBOT_LM set, else labeled",
    )
    learn.add_argument(
        "--max-demos",
        type=int,
        default=3,
        metavar="N",
        help="few-shot demos per predictor at most (1-16, default %(default)s)",
    )


def _add_scan(sub: argparse._SubParsersAction) -> None:
    scan = sub.add_parser(
        "scan",
        help="analyze a log once: anomalies, diagnoses, proposals",
        description="Run one monitoring cycle over a log file, stdin ('-'), or the "
        "configured log source (no PATH): parse, find anomalies, diagnose them, store "
        "proposals and notify (Slack when configured, else this terminal).",
        epilog="examples (from the repository root):\n"
        "  mendbot scan examples/asgi_service.log --repo examples/service\n"
        "  mendbot scan examples/asgi_service.log --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument(
        "path",
        nargs="?",
        metavar="PATH|-",
        help="log file to read, '-' for stdin; omit to use the configured source",
    )
    scan.add_argument(
        "--repo",
        metavar="DIR",
        help="diagnose against a scratch git copy of DIR (DIR is only read), instead of "
        "TARGET_REPO_PATH",
    )
    scan.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per line (type: anomaly | proposal)",
    )
    scan.add_argument(
        "--no-diagnose",
        action="store_true",
        help="only find anomalies: no diagnosis, nothing stored or posted",
    )
    scan.add_argument(
        "--fail-on",
        choices=["LOW", "MEDIUM", "HIGH", "CRITICAL"],
        help="exit 1 when an anomaly of this severity or higher is found",
    )


def _add_run(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "run",
        help="the long-running bot: scheduled monitoring, Slack app, /health",
        description="Start the monitor (every MONITOR_INTERVAL_SECONDS), the Slack app "
        "(Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT at /slack/events) and "
        "GET /health. Stops cleanly on SIGTERM or Ctrl-C.",
    )


def _add_fixes(sub: argparse._SubParsersAction) -> None:
    fixes = sub.add_parser(
        "fixes",
        help="list, show, implement, reject or revert stored fix proposals",
        description="The same decisions as in Slack, from a terminal. The actor recorded "
        "in the audit trail is cli:<your login>, or --as NAME.",
    )
    actions = fixes.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="proposals, newest first")
    listing.add_argument("--status", help="only this status (proposed, applied, ...)")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (20)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    show = actions.add_parser("show", help="one proposal with its diff and audit trail")
    show.add_argument("id", metavar="ID", help="proposal id, e.g. fix_20261121_023300")
    show.add_argument("--json", action="store_true", help="print the proposal as JSON")
    implement = actions.add_parser(
        "implement", help="approve and apply: backup, edit, validate, commit, push"
    )
    implement.add_argument("id", metavar="ID")
    implement.add_argument(
        "--as", dest="actor", metavar="NAME", help="who approves (default: your login)"
    )
    reject = actions.add_parser("reject", help="reject a proposal")
    reject.add_argument("id", metavar="ID")
    reject.add_argument("--reason", default="", help="why (kept in the audit trail)")
    reject.add_argument(
        "--as", dest="actor", metavar="NAME", help="who rejects (default: your login)"
    )
    revert = actions.add_parser(
        "revert",
        help="undo a pushed fix: git revert of its commit, validated, committed, pushed",
    )
    revert.add_argument("id", metavar="ID")
    revert.add_argument("--reason", default="", help="why (in the commit and audit trail)")
    revert.add_argument(
        "--as", dest="actor", metavar="NAME", help="who reverts (default: your login)"
    )


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from monitoring.evaluation.venvs import DEFAULT_VENV_CACHE

    evaluation = sub.add_parser(
        "eval",
        help="the fix evaluation: scan, implement and check bundled or given cases",
        description='For each case (a folder with case.json; see README, "Fix evaluation"): '
        "a fresh git repository with a bare remote and a virtualenv for its requirements, "
        "then scan its log, implement every proposal that has edits, and run the oracle "
        "tests before and after. Reports per incident whether it was flagged, fixed, "
        "harmful or rightly left without a code change, with LM tokens and seconds. "
        "MENDBOT_LM set evaluates the LM (the playbooks answer where it fails or its edits "
        "are refused; --lm-only measures the LM alone); unset, the offline playbooks.",
        epilog="example (from the repository root):\n"
        "  mendbot eval evals/flask_shop --json\n"
        "  mendbot eval --min-fixed 4 --max-harmful 0    # every bundled case, with floors\n"
        "  MENDBOT_LM=openai/qwen2.5-coder-1.5b-instruct OPENAI_API_KEY=local \\\n"
        "    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 MENDBOT_LM_MAX_TOKENS=1000 \\\n"
        "    mendbot eval --lm-only --json    # the LM alone (a local model, see README)\n"
        "  MENDBOT_LM=openai/m mendbot eval --program latest   # after mendbot learn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluation.add_argument(
        "cases",
        nargs="*",
        metavar="CASES_DIR",
        help="a case folder or a folder of cases (default: the bundled evals/)",
    )
    evaluation.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per incident, then a summary object",
    )
    evaluation.add_argument(
        "--venv-cache",
        default=str(DEFAULT_VENV_CACHE),
        metavar="DIR",
        help="where case virtualenvs are kept between runs (default: %(default)s)",
    )
    _add_eval_choices(evaluation)


def _add_eval_choices(evaluation: argparse.ArgumentParser) -> None:
    """``eval``'s options on what is measured, and its floors."""
    evaluation.add_argument(
        "--lm-only",
        action="store_true",
        help="measure the LM alone: no playbook edit where it fails or its edits are "
        "refused (MENDBOT_LM_ONLY=true); needs MENDBOT_LM",
    )
    evaluation.add_argument(
        "--keep", metavar="DIR", help="run each case in DIR/<case> and keep it (to inspect)"
    )
    evaluation.add_argument(
        "--program",
        default="none",
        metavar="latest|none|ID",
        help="the diagnosis program with MENDBOT_LM: none (default) the uncompiled one, "
        "latest or ID a program saved by mendbot learn in DATABASE_URL",
    )
    for flag, what in (
        ("--min-fixed", "exit 1 when fewer incidents are fixed"),
        ("--max-harmful", "exit 1 when more fixes are harmful"),
        ("--min-flagged", "exit 1 when fewer incidents are flagged"),
        ("--min-no-code-change-correct", "exit 1 when fewer no-code incidents are left alone"),
    ):
        evaluation.add_argument(flag, type=int, metavar="N", help=what)


_COMMANDS = {
    "scan": "bot.cli.scan_command",
    "run": "bot.cli.run_command",
    "fixes": "bot.cli.fixes_command",
    "eval": "bot.cli.eval_command",
    "stats": "bot.cli.stats_command",
    "learn": "bot.cli.learn_command",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mendbot`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    args = build_parser().parse_args(argv)
    from bot.cli.support import load_settings_or_exit

    try:
        settings = load_settings_or_exit()
        module = importlib.import_module(_COMMANDS[args.command])
        return int(module.run(args, settings))
    except KeyboardInterrupt:
        print("mendbot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as stop:
        return int(stop.code or 0)


if __name__ == "__main__":
    sys.exit(main())
