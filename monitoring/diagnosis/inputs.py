"""Diagnosis inputs: the text the LM is given, masked, delimited and bounded.

Logs are untrusted. Before anything reaches the LM:

- secrets are masked with stable placeholders (:class:`core.redact.Redactor`): log
  text with one redactor (``<SECRET_1>``), code with another (``<CODE_SECRET_1>``) whose
  placeholders alone may be restored into an edit's text;
- every log excerpt is wrapped in ``<log_excerpt n="1">`` ... ``</log_excerpt>``, and the
  signatures tell the model that those are data it must never obey; marker look-alikes in
  the excerpt (``<log_excerpt``, ``</log_excerpt``, DSPy's ``[[ ## field ## ]]``) are
  defused first so a log line cannot close the block or forge an output field, and so
  are look-alikes of code placeholders (``<CODE_SECRET_1>``), which alone are restored
  into an edit's text;
- tracebacks are condensed: library frames (site-packages, the interpreter) become one
  ``... N library frames omitted ...`` line.

Bounds (characters; about 4 characters per token for English and code):

==============================  ===========================================================
input                           bound
==============================  ===========================================================
anomaly description             :data:`MAX_DESCRIPTION_CHARS`
log samples                     :data:`MAX_SAMPLES_TO_LM` newest samples of at most
                                :data:`MAX_SAMPLE_CHARS` each
system context                  :data:`MAX_SYSTEM_CONTEXT_CHARS` (repository files near the
                                evidence, the lines at each frame and emitter)
current code                    :data:`monitoring.diagnosis.context.MAX_CONTEXT_CHARS`
==============================  ===========================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.models import Anomaly
from core.redact import Redactor
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.repo import RepoIndex, is_library_path

MAX_DESCRIPTION_CHARS = 1_200
MAX_SAMPLES_TO_LM = 3
MAX_SAMPLE_CHARS = 1_200
MAX_SYSTEM_CONTEXT_CHARS = 1_500
#: Repository file names listed in the system context.
MAX_LISTED_FILES = 30
#: Lines shown on each side of a frame or emitter line in the system context.
SYSTEM_CONTEXT_LINES = 2

_FILE_LINE = re.compile(r'^\s*File "([^"]+)", line \d+')
_MARKERS = (
    (re.compile(r"<(/?)log_excerpt", re.IGNORECASE), r"(\1log_excerpt"),
    # A log line must not pose as masked code: only code placeholders are restored into edits.
    (re.compile(r"<(CODE_)"), r"(\1"),
    (re.compile(r"\[\[\s*##"), "[ [ ##"),
    (re.compile(r"##\s*\]\]"), "## ] ]"),
)


@dataclass(frozen=True)
class LMInputs:
    """The four texts the signatures take (all masked and bounded)."""

    anomaly_description: str
    log_samples: str
    system_context: str
    current_code: str

    @property
    def total_chars(self) -> int:
        """Characters over all four inputs."""
        return sum(
            len(t)
            for t in (
                self.anomaly_description,
                self.log_samples,
                self.system_context,
                self.current_code,
            )
        )


def build_inputs(
    anomaly: Anomaly,
    context: CodeContext,
    index: RepoIndex | None,
    *,
    log_redactor: Redactor,
    code_redactor: Redactor,
) -> LMInputs:
    """The LM's inputs for ``anomaly`` (see the module docstring for masking and bounds)."""
    return LMInputs(
        anomaly_description=defuse(log_redactor.redact(describe(anomaly))),
        log_samples=format_samples(anomaly.samples, log_redactor),
        system_context=code_redactor.redact(system_context(anomaly, context, index)),
        current_code=code_redactor.redact(context.render()),
    )


def describe(anomaly: Anomaly) -> str:
    """A plain description of the anomaly (what rule, how often, when, where)."""
    lines = [
        f"kind: {anomaly.kind}",
        f"severity (by the analyzer): {anomaly.severity.value}",
        f"events: {anomaly.count} between {anomaly.first_seen.isoformat()} and "
        f"{anomaly.last_seen.isoformat()}",
        f"message template: {defuse(anomaly.template)}",
    ]
    if anomaly.logger:
        lines.append(f"logger: {anomaly.logger}")
    if anomaly.service:
        lines.append(f"service: {anomaly.service}")
    if anomaly.exception_type:
        message = defuse((anomaly.exception_message or "")[:300])
        lines.append(f"exception: {anomaly.exception_type}: {message}")
    app = [f for f in anomaly.frames if not is_library_path(f.file)]
    if anomaly.frames:
        shown = ", ".join(f"{f.function} ({f.file}:{f.line})" for f in app[-4:]) or "none"
        lines.append(
            f"traceback: {len(anomaly.frames)} frames, application frames "
            f"(outermost first): {shown}"
        )
    if anomaly.details:
        details = ", ".join(f"{k}={v}" for k, v in list(anomaly.details.items())[:10])
        lines.append(f"figures: {defuse(details)}")
    return "\n".join(lines)[:MAX_DESCRIPTION_CHARS]


def format_samples(samples: list[str], redactor: Redactor) -> str:
    """The newest samples, condensed, masked, defused and wrapped in excerpt markers."""
    chosen = samples[-MAX_SAMPLES_TO_LM:]
    blocks = []
    for number, sample in enumerate(chosen, 1):
        text = defuse(redactor.redact(condense_traceback(sample)))
        if len(text) > MAX_SAMPLE_CHARS:
            half = MAX_SAMPLE_CHARS // 2
            omitted = len(text) - 2 * half
            text = f"{text[:half]}\n... ({omitted} characters omitted) ...\n{text[-half:]}"
        blocks.append(f'<log_excerpt n="{number}">\n{text}\n</log_excerpt>')
    return "\n".join(blocks) if blocks else "(no samples)"


def condense_traceback(text: str) -> str:
    """``text`` with each run of library frames replaced by one line saying how many."""
    out: list[str] = []
    skipped = 0
    skipping = False
    for line in text.splitlines():
        match = _FILE_LINE.match(line)
        if match:
            skipping = is_library_path(match.group(1))
            if skipping:
                skipped += 1
                continue
        elif skipping and line.startswith("    "):
            continue  # the code and caret lines of a skipped frame
        else:
            skipping = False
        if skipped:
            out.append(f"  ... {skipped} library frames omitted ...")
            skipped = 0
        out.append(line)
    if skipped:
        out.append(f"  ... {skipped} library frames omitted ...")
    return "\n".join(out)


def defuse(text: str) -> str:
    """``text`` with excerpt markers, DSPy field markers and code placeholder look-alikes
    (``<CODE_SECRET_1>``) made inert."""
    for pattern, replacement in _MARKERS:
        text = pattern.sub(replacement, text)
    return text


def system_context(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> str:
    """What the service is and where the evidence lies: files and the lines at each site."""
    if index is None:
        return "No repository is available: diagnose from the logs alone."
    parts = ["Repository files near the evidence: " + ", ".join(_nearby_files(index, context))]
    sites = [(f.path, f.frame.line, f"frame {f.frame.function}()") for f in context.frames]
    sites += [(e.path, e.line, "writes the message") for e in context.emitters]
    for path, line, what in sites:
        lines = index.lines(path)
        start = max(1, line - SYSTEM_CONTEXT_LINES)
        end = min(len(lines), line + SYSTEM_CONTEXT_LINES)
        excerpt = "\n".join(lines[start - 1 : end])
        parts.append(f"{path}:{line} ({what}), lines {start}-{end}:\n{excerpt}")
    if not sites:
        parts.append("No code in the repository matches the evidence.")
    return "\n\n".join(parts)[:MAX_SYSTEM_CONTEXT_CHARS]


def _nearby_files(index: RepoIndex, context: CodeContext) -> list[str]:
    folders = {f.rsplit("/", 1)[0] if "/" in f else "" for f in context.evidence_files} or {""}
    near = [f for f in index.files if (f.rsplit("/", 1)[0] if "/" in f else "") in folders]
    return near[:MAX_LISTED_FILES] or list(index.files[:MAX_LISTED_FILES])
