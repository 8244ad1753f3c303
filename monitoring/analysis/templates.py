"""Log analysis: masking of variable parts and template mining over log messages.

Two layers, both deterministic and independent of arrival order where it matters:

* :func:`mask` rewrites the variable parts of one message into typed placeholders, token by
  token: ``LM response truncated (max_tokens=3000, needed=5790)`` becomes
  ``LM response truncated (max_tokens=<NUM>, needed=<NUM>)``. The masked form depends on
  that message alone, so it is the *canonical form* that fingerprints are built from.
* :class:`TemplateMiner` groups masked messages into templates: their shapes
  (``monitoring/analysis/shapes.py``: every variable one ``<*>``, with rules that hold for
  any system's log) are clustered as drain3 would, then split where a position holds few
  distinct words and merged across clusters where one holds many, as Brain would
  (``monitoring/analysis/clusters.py``). Ids depend on arrival order and are only
  meaningful inside one miner. :func:`as_wildcards` renders a template with ``<*>``.

Placeholders: ``<NUM>`` (integers, decimals, with a unit suffix kept: ``<NUM>s``,
``<NUM>ms``), ``<IP>`` (IPv4, optional port), ``<HEX>`` (``0x...`` or 8+ hex digits),
``<UUID>``, and ``<ID>`` for any other token containing a digit (``Ev831849666``;
``'ghost5187'`` keeps its quotes: ``'<ID>'``); in paths only the segments with a digit
change (``/users/<NUM>/<ID>``). In ``key=value``,
``key:value``, ``name#3`` and ``label.....7`` only the value is masked. Tokens without a
digit are kept here (the canonical form is what people see); grouping decides whether
they vary.

No errors are raised: any string is a valid message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import NamedTuple

from monitoring.analysis.clusters import OVERFLOW, ShapeClusters
from monitoring.analysis.shapes import Shaper

#: Characters stripped off the front/back of a token before it is classified, kept verbatim.
_LEAD = "[](){}<>'\"`,;="
_TRAIL = "[](){}<>'\"`,;:.!?"
_DIGIT = re.compile(r"\d").search
_UNITS = r"(?:[kKMGT]i?)?[bB]|[mun]?s|sec|secs|seconds|min|h|%|x"
_KINDS = (
    r"(?P<IP>\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?)"
    rf"|(?P<NUM>[-+]?\d+(?:[.,]\d+)*(?P<unit>{_UNITS})?)"
    r"|(?P<UUID>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<HEX>0[xX][0-9a-fA-F]+|[0-9a-fA-F]{8,})"
)
# A token core, classified in one pass: the named group that matched is the placeholder.
_KIND = re.compile(_KINDS).fullmatch
# Whole tokens without key=value or path structure (the common case), in one C call:
# lead punctuation, an optional "/", a core (or any word with a digit: <ID>), trail.
_SIMPLE = re.compile(
    r"(?=\D*\d)[\[\](){}<>'\"`,;=]*/?"
    rf"(?:{_KINDS}|(?P<ID>[\w-]*\d[\w-]*))"
    r"[\[\](){}<>'\"`,;:.!?]*"
).fullmatch
_PATH_NUM = re.compile(r"(?<![^/\\])\d+(?![^/\\])")
_PATH_ID = re.compile(r"(?<![^/\\])(?=[^/\\<]*\d)[^/\\]+")
_ALPHA = re.compile(r"[A-Za-z]").search
_KEYISH = re.compile(r"[=:#/]|\.\.").search

#: Longest message prefix (characters) that is masked and mined; the rest is ignored.
MAX_MINED_CHARS = 4096
#: Cache bounds: entries, and the longest text (characters) worth caching, so that the
#: caches stay in the tens of megabytes whatever the log holds.
_TOKEN_CACHE_SIZE = 100_000
_FORM_CACHE_SIZE = 50_000
_MESSAGE_CACHE_SIZE = 50_000
_MAX_CACHED_TOKEN = 64
_MAX_CACHED_MESSAGE = 512
_ZERO_DIGITS = str.maketrans("123456789", "000000000")
_ZERO_BYTES = bytes.maketrans(b"123456789", b"000000000")


def _placeholder(match: re.Match[str]) -> str:
    """``<KIND>`` for a :data:`_KINDS` match, with a number's unit kept (``<NUM>ms``)."""
    kind = match.lastgroup or "ID"
    if kind == "NUM":
        return "<NUM>" + (match.group("unit") or "")
    return f"<{kind}>"


def _classify(core: str) -> str:
    """The placeholder for a token core that contains a digit."""
    kind = _KIND(core)
    if kind is not None:
        return _placeholder(kind)
    if core[0] in "/\\~" or core.startswith("./"):
        return _mask_path(core)
    return "<ID>"


def _mask_path(core: str) -> str:
    """``/users/123/a1.txt`` -> ``/users/<NUM>/<ID>``: only segments with digits change."""
    rest = core.lstrip("/")
    if rest and core[0] == "/" and "/" not in rest and "\\" not in rest:
        kind = _KIND(rest)  # "/10.0.0.1:80" -> "/<IP>"
        if kind is not None:
            return core[: len(core) - len(rest)] + _placeholder(kind)
    return _PATH_ID.sub("<ID>", _PATH_NUM.sub("<NUM>", core))


def mask_token(token: str) -> str:
    """Mask one whitespace-free token (see the module docstring for the placeholders)."""
    if token.isdigit():
        return "<NUM>"
    simple = _SIMPLE(token)
    if simple is None:
        return _mask_general(token)
    start, end = simple.span(simple.lastgroup or 0)  # same result as the general path
    return token[:start] + _placeholder(simple) + token[end:]


def _mask_general(token: str) -> str:
    """:func:`mask_token` for any token: strip punctuation, split key=value, classify."""
    digit = _DIGIT(token)
    if digit is None:
        return token
    rest = token.lstrip(_LEAD)
    lead = token[: len(token) - len(rest)]
    core = rest.rstrip(_TRAIL)
    trail = rest[len(core) :]
    if not core:
        return token
    first = digit.start() - len(lead)
    if first > 0 and _KEYISH(core, 0, first):
        split = _value_start(core, first)
        if split:
            return lead + core[:split] + _classify(core[split:]) + trail
    return lead + _classify(core) + trail


def _value_start(core: str, first_digit: int) -> int:
    """Where the value starts in ``key=value``-like tokens (0: not such a token)."""
    if core[first_digit - 1] in "+-":
        first_digit -= 1
    prefix = core[:first_digit]
    cut = max(prefix.rfind("="), prefix.rfind(":"), prefix.rfind("#")) + 1
    if prefix.endswith(".."):
        cut = first_digit
    elif prefix.endswith("/") and prefix[:-1].isalpha():
        cut = first_digit  # name/version: HTTP/1.1, python/3.11
    if cut > 1 and _ALPHA(prefix, 0, cut):
        return cut
    return 0


class _TokenCache(dict[str, str]):
    """token -> masked token; a miss masks and stores (cleared when it reaches its size)."""

    def __missing__(self, token: str) -> str:
        # Keys are zeroed (digits_as_zero): a token without "0" has no ASCII digit.
        masked = token if "0" not in token and token.isascii() else mask_token(token)
        if len(token) > _MAX_CACHED_TOKEN:
            return masked
        if len(self) >= _TOKEN_CACHE_SIZE:
            self.clear()
        self[token] = masked
        return masked


def digits_as_zero(message: str) -> str:
    """``message`` (cut to :data:`MAX_MINED_CHARS`) with every ASCII digit turned into ``0``.

    Masking only looks at where digits are, never at their values, so a message and this
    form of it mask alike; the form is the key of the caches (``blk_-16089...`` and
    ``blk_-73842...`` share one entry).
    """
    message = message[:MAX_MINED_CHARS]
    if message.isascii():  # bytes.translate is ~8x faster than str.translate
        return message.encode().translate(_ZERO_BYTES).decode()
    return message.translate(_ZERO_DIGITS)


class Masker:
    """:func:`mask` with its own token cache (each :class:`TemplateMiner` has one)."""

    def __init__(self) -> None:
        self._lookup = _TokenCache().__getitem__

    def mask(self, message: str) -> str:
        """The canonical masked form of ``message``: whitespace-normalised, variables typed.

        Args:
            message: one log message (no timestamp/level prefix), any length; only the
                first :data:`MAX_MINED_CHARS` characters are used.

        Returns:
            The tokens of the message joined by single spaces, each variable part replaced
            by its placeholder. Equal for messages that differ only in masked parts. A
            digit that survives masking (only in odd tokens such as ``/<1``) reads ``0``.
        """
        return self.mask_zeroed(digits_as_zero(message))

    def mask_zeroed(self, zeroed: str) -> str:
        """:meth:`mask` for a message already passed through :func:`digits_as_zero`."""
        if _DIGIT(zeroed) is None:
            return " ".join(zeroed.split())
        return " ".join(map(self._lookup, zeroed.split()))


_default_masker = Masker()


def mask(message: str) -> str:
    """Mask ``message`` with a process-wide :class:`Masker` (see :meth:`Masker.mask`)."""
    return _default_masker.mask(message)


class TemplateMatch(NamedTuple):
    """Where one message landed: its shape's ``cluster_id`` and its canonical ``masked`` form.

    ``cluster_id`` is the id of the message's shape (``monitoring/analysis/clusters.py``), a
    provisional group: :meth:`TemplateMiner.groups` maps it to its template group once the
    window is read. :data:`~monitoring.analysis.clusters.OVERFLOW` when the miner is full.
    """

    cluster_id: int
    masked: str


class TemplateMiner:
    """Masking plus template mining: groups messages into templates, with caches.

    Each message is masked (:class:`Masker`, the canonical form), turned into a shape
    (``monitoring/analysis/shapes.py``) and clustered (``monitoring/analysis/clusters.py``).
    Two caches keep repeated work out of the hot path: a message seen before (up to its
    digits' values, see :func:`digits_as_zero`) returns its earlier match without masking,
    and a masked form seen before returns its shape id without building the shape. Both
    are bounded (cleared when full). Shape ids are assigned at once; which shapes form one
    template is decided from everything seen so far by :meth:`groups`.

    Args:
        sim_th: share of shape positions (0..1) that must agree to join a cluster.
        max_values: a position with at most this many distinct values (words without
            digits) stays constant: lines that differ there are different templates.
        max_shapes: distinct shapes held at most (memory bound; see :meth:`prune`).
    """

    def __init__(
        self, *, sim_th: float = 0.7, max_values: int = 3, max_shapes: int = 20_000
    ) -> None:
        self._shapes = ShapeClusters(sim_th=sim_th, max_values=max_values, max_shapes=max_shapes)
        self._mask = Masker().mask_zeroed
        self._shape = Shaper().shape
        self._forms: dict[str | bytes, int] = {}  # masked form (a digest if long) -> shape id
        self._messages: dict[str | bytes, TemplateMatch] = {}  # zeroed message -> match

    def add(self, message: str) -> TemplateMatch:
        """Mask ``message`` and give its shape id (a new shape joins or starts a cluster)."""
        text = message[:MAX_MINED_CHARS]  # digits_as_zero, inline: the hot path of a scan
        key: str | bytes = (
            text.encode().translate(_ZERO_BYTES) if text.isascii() else text.translate(_ZERO_DIGITS)
        )
        match = self._messages.get(key)
        if match is not None:
            return match
        zeroed = key.decode() if isinstance(key, bytes) else key
        masked = self._mask(zeroed)
        form = masked if len(masked) <= _MAX_CACHED_MESSAGE else _digest(masked)
        shape_id = self._forms.get(form)
        if shape_id is None:  # (OVERFLOW is cached too: the table is full until prune())
            shapes = self._shapes  # a full table takes no new form: no shape to build
            shape_id = OVERFLOW if shapes.full else shapes.add(self._shape(masked))
            if len(self._forms) >= _FORM_CACHE_SIZE:
                self._forms.clear()
            self._forms[form] = shape_id
        match = TemplateMatch(shape_id, masked)
        if len(zeroed) <= _MAX_CACHED_MESSAGE:
            if len(self._messages) >= _MESSAGE_CACHE_SIZE:
                self._messages.clear()
            self._messages[key] = match
        return match

    def cluster_id(self, message: str) -> int:
        """Only the shape id of :meth:`add`."""
        return self.add(message).cluster_id

    def groups(self) -> dict[int, int]:
        """Shape id -> template group id, for every shape held (see ``clusters.py``)."""
        return self._shapes.resolve()

    def template(self, cluster_id: int) -> str | None:
        """The template tokens of a shape's group, space-separated (``<*>`` for variables)."""
        tokens = self._shapes.template(cluster_id)
        return None if tokens is None else " ".join(tokens)

    def prune(self, keep: Iterable[int]) -> None:
        """Forget every shape but those in ``keep`` (and empty the caches that name them)."""
        self._shapes.prune(keep)
        self._forms.clear()
        self._messages.clear()

    @property
    def cluster_count(self) -> int:
        """How many distinct shapes the miner holds."""
        return len(self._shapes)

    @property
    def comparisons(self) -> int:
        """Shape-to-cluster comparisons made so far (the cost that must stay linear)."""
        return self._shapes.comparisons


def _digest(text: str) -> bytes:
    """16-byte key of a long text (the form cache keeps keys small whatever the log holds)."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


_WILDCARD_RUN = re.compile(
    r"(?:<\*>|<(?:NUM|IP|HEX|UUID|ID)>[a-zA-Z%]*)(?:\s*<\*>|<(?:NUM|IP|HEX|UUID|ID)>[a-zA-Z%]*)*"
)


def as_wildcards(template: str) -> str:
    """``template`` with every placeholder as ``<*>`` and runs of them as one (Loghub's form).

    ``LM response truncated (max_tokens=<NUM>, needed=<NUM>)`` becomes
    ``LM response truncated (max_tokens=<*>, needed=<*>)``; ``<IP> <*>`` becomes ``<*>``.
    """
    return _WILDCARD_RUN.sub("<*>", template)
