"""Log analysis: masking of variable parts and template mining (drain3) over log messages.

Two layers, both deterministic and independent of arrival order where it matters:

* :func:`mask` rewrites the variable parts of one message into typed placeholders, token by
  token: ``LM response truncated (max_tokens=3000, needed=5790)`` becomes
  ``LM response truncated (max_tokens=<NUM>, needed=<NUM>)``. The masked form depends on
  that message alone, so it is the *canonical form* that fingerprints are built from.
* :class:`TemplateMiner` feeds masked messages to drain3 to merge the masked forms that
  still differ in a word or two (``user alice`` / ``user bob``) into one template cluster.
  Cluster ids depend on arrival order and are only meaningful inside one miner.

Placeholders: ``<NUM>`` (integers, decimals, with a unit suffix kept: ``<NUM>s``,
``<NUM>ms``), ``<IP>`` (IPv4, optional port), ``<HEX>`` (``0x...`` or 8+ hex digits),
``<UUID>``, and ``<ID>`` for any other token containing a digit (``Ev831849666``;
``'ghost5187'`` keeps its quotes: ``'<ID>'``); in paths only the segments with a digit
change (``/users/<NUM>/<ID>``). In ``key=value``,
``key:value``, ``name#3`` and ``label.....7`` only the value is masked. Tokens without a
digit are kept: drain3 generalises them when they vary.

No errors are raised: any string is a valid message.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from drain3.drain import Drain

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
_TYPED = re.compile(r"<(?:NUM|IP|HEX|UUID|ID)>")

#: The placeholder drain3 sees for every typed one: a literal token, so masked positions
#: count as similar (drain3's own ``<*>`` would count as a mismatch).
_DRAIN_PLACEHOLDER = "<V>"
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
        masked = mask_token(token)
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
    """Where one message landed: its drain3 ``cluster_id`` and its canonical ``masked`` form."""

    cluster_id: int
    masked: str


class TemplateMiner:
    """Masking plus drain3: groups messages into templates, with a cache of masked forms.

    Two caches keep repeated work out of the hot path: a message seen before (up to its
    digits' values, see :func:`digits_as_zero`) returns its earlier match without masking,
    and a masked form seen before goes straight to its
    cluster without a drain3 search (drain3 would put it there anyway: its own template
    only generalises). Both are bounded (cleared when full).

    Args:
        sim_th: drain3 similarity threshold (share of equal tokens, 0..1) to join a cluster.
            Masked positions count as equal, which is why it is higher than drain3's 0.4.
        depth: drain3 prefix-tree depth (>= 3).
        max_clusters: keep at most this many clusters (least recently used dropped);
            None for no limit.
    """

    def __init__(
        self, *, sim_th: float = 0.7, depth: int = 5, max_clusters: int | None = 20_000
    ) -> None:
        self._drain = Drain(sim_th=sim_th, depth=depth, max_clusters=max_clusters)
        self._mask = Masker().mask_zeroed
        self._clusters: dict[str, int] = {}
        self._messages: dict[str, TemplateMatch] = {}

    def add(self, message: str) -> TemplateMatch:
        """Mask ``message`` and assign it to a cluster (creating one if none is similar)."""
        zeroed = digits_as_zero(message)
        match = self._messages.get(zeroed)
        if match is not None:
            return match
        masked = self._mask(zeroed)
        cluster_id = self._clusters.get(masked)
        if cluster_id is None:
            cluster, _ = self._drain.add_log_message(_TYPED.sub(_DRAIN_PLACEHOLDER, masked))
            cluster_id = cluster.cluster_id
            if len(masked) <= _MAX_CACHED_MESSAGE:
                if len(self._clusters) >= _FORM_CACHE_SIZE:
                    self._clusters.clear()
                self._clusters[masked] = cluster_id
        match = TemplateMatch(cluster_id, masked)
        if len(zeroed) <= _MAX_CACHED_MESSAGE:
            if len(self._messages) >= _MESSAGE_CACHE_SIZE:
                self._messages.clear()
            self._messages[zeroed] = match
        return match

    def cluster_id(self, message: str) -> int:
        """Only the cluster id of :meth:`add` (the grouping benchmark's entry point)."""
        return self.add(message).cluster_id

    def template(self, cluster_id: int) -> str | None:
        """drain3's current template for a cluster (``<*>`` where lines varied), if kept."""
        cluster = self._drain.id_to_cluster.get(cluster_id)
        return None if cluster is None else cluster.get_template()

    @property
    def cluster_count(self) -> int:
        """How many clusters the miner holds."""
        return len(self._drain.id_to_cluster)
