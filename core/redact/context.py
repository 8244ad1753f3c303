"""Shared contracts (masking): secrets recognised by where they stand, not by their format.

Our context rules, for what no vendor format says:

* **key/value pairs** (``password=…``, ``"api_key": "…"``, ``api-key: …`` in YAML or a
  header, ``{'token': '…'}`` in a traceback's local variables, ``?access_token=…&`` in a
  query string, ``--password=…`` on a command line, ``<password>…</password>``): the value
  is masked whatever it is when the key names a credential (:func:`secret_key_name`:
  its last word is ``password``, ``token``, ``secret``, ``session``, ``signature``... or
  its last two ``api key``, ``client secret``, ``session id``...), and otherwise when the
  value looks random (:func:`looks_random`; for a key with ``key``, ``secret``, ``token``...
  in its name, also 32 or more hexadecimal digits), unless the key names an identifier
  (``request_id``, ``trace``, ``sha``, ``etag``...);
* **Authorization** headers (any scheme) and ``Bearer``/``Basic``/``token`` credentials;
* **Cookie** and **Set-Cookie** headers: every cookie's value (not its attributes);
* **URLs with credentials**: the password of ``scheme://user:password@host`` and a long
  user part alone (``https://<key>@sentry.io``);
* **payment card numbers**: 13 to 19 digits, spaced or not, with a card brand's prefix
  and length and a valid Luhn check digit;
* **e-mail addresses**;
* **random values**: 20 or more characters of the base64 alphabet with upper and lower
  case letters and digits, and high entropy; and quoted base64-alphabet strings above
  4.5 bits per character (detect-secrets' ``Base64HighEntropyString`` rule).

Not masked (a choice, see the README's Safety section): IP addresses, host names, UUIDs,
hexadecimal strings (commit hashes, trace ids), numbers and user names. No errors are
raised.
"""

from __future__ import annotations

import bisect
import itertools
import re
import string
from collections.abc import Iterator

from core.redact.finding import Finding, group_findings
from core.redact.formats import entropy

# --- key/value pairs -----------------------------------------------------------------------
_KEY = r"(?<![\w.$-])(?P<key>-{0,2}[A-Za-z_][\w.-]{0,63})"
# A lookahead, so that pairs may nest: the value of ``redirect=https://x/cb?token=abc``
# holds ``token=abc``, found at its own position.
_KEY_VALUE = re.compile(
    r"(?=" + _KEY + r"[\"'`]?[ \t]*(?:=>|:=|=|:)[ \t]*"
    r"(?:(?P<q>[\"'`])(?P<quoted>[^\n]{1,1024}?)(?P=q)"
    r"|(?P<bare>[^\s\"'`,;&<>(){}\[\]\\]{1,1024})))"
)
_FLAG = re.compile(r"(?<![\w-])(?P<key>--?[A-Za-z][\w-]{1,40})[ \t]+(?P<bare>[^\s\"'`-][^\s\"'`]*)")
_XML = re.compile(r"<(?P<key>[A-Za-z_][\w:.-]{0,63})>(?P<bare>[^<\n]{1,512})</(?P=key)>")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_.\-:\s]+")
#: A key whose last word is one of these holds a credential.
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "passphrase", "passcode", "secret", "secrets",
        "token", "apikey", "credential", "credentials", "creds", "session", "sessionid",
        "sessid", "sid", "signature", "sig", "jwt", "csrf", "xsrf", "otp", "auth",
        "privatekey", "secretkey", "accesskey", "accountkey", "masterkey", "clientsecret",
        "authtoken", "sharedaccesskey", "connectionstring",
    }
)  # fmt: skip
#: ... or whose last two words are one of these.
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"),
        ("account", "key"), ("master", "key"), ("signing", "key"), ("encryption", "key"),
        ("license", "key"), ("auth", "key"), ("app", "key"), ("client", "secret"),
        ("session", "id"), ("session", "key"), ("shared", "key"), ("connection", "string"),
    }
)  # fmt: skip
#: A key whose last word is one of these names an identifier: its value stays.
_ID_WORDS = frozenset(
    {
        "id", "ids", "uuid", "guid", "trace", "traceparent", "span", "sha", "hash", "digest",
        "etag", "commit", "checksum", "fingerprint", "version", "rev", "revision", "path",
        "file", "url", "uri", "host", "name", "type", "kind",
    }
)  # fmt: skip
#: A key with one of these words and no other verdict: hexadecimal values are masked too.
_WEAK_WORDS = frozenset({"key", "keys", "secret", "token", "password", "auth", "api", "private"})
#: Keys handled by their own rules below (their value is a scheme plus credential, or pairs).
_SESSION_WORDS = frozenset({"session", "sessionid", "sessid", "sid"})
_SESSION_PAIRS = frozenset({("session", "id"), ("session", "key")})
_OBJECT_REPR = re.compile(r"[\w.$]+@[0-9a-fA-F]{4,}")
_LETTER = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
_OWN_RULE = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_NOT_A_VALUE = re.compile(
    r"(?i)true|false|null|none|nil|undefined|yes|no|on|off|n/?a|[*x•.#-]+|\?+"
    r"|\[?(?:redacted|filtered|masked|hidden|removed)\]?|\$\{[^}]*\}|\{\{[^}]*\}\}"
    r"|\$[A-Za-z_]\w*|%\(\w+\)s|%s"
)

# --- headers, URLs, cards, e-mail ------------------------------------------------------------
_AUTHORIZATION = re.compile(
    r"(?i)\b(?:proxy-)?authorization[\"'`]?[ \t]*[:=][ \t]*[\"'`]?"
    r"(?:(?:bearer|basic|digest|token|bot|apikey|api-key|hmac|negotiate|ntlm|sso-key|key"
    r"|aws4-hmac-sha256)[ \t]+)?(?!(?:bearer|basic|token)\b)(?P<secret>[^\s\"'`,;]{3,})"
)
_CREDENTIAL = r"[\w.~+/-]{8,}={0,2}(?![\w=])"  # RFC 6750's b64token, padding at the end only
_SCHEME = re.compile(
    r"(?i)(?<![\w=])(?:bearer|basic)[ \t]+(?P<secret>(?=[\w.~+/=-]*[\d.~+/=_-])"
    + _CREDENTIAL
    + r")|(?<![\w=])token[ \t]+(?P<token>(?=[\w.~+/=-]*\d)(?=[\w.~+/=-]*[A-Za-z])(?=.{12})"
    + _CREDENTIAL
    + ")"
)
_COOKIE = re.compile(r"(?i)\b(?:set-)?cookie[\"'`]?[ \t]*[:=][ \t]*[\"'`]?(?P<pairs>[^\n\"'`]*)")
_COOKIE_PAIR = re.compile(r"(?:^|;)[ \t]*(?P<name>[^=;\s]+)=(?P<value>[^;\s]*)")
_COOKIE_ATTRIBUTES = frozenset(
    {"path", "domain", "expires", "max-age", "samesite", "secure", "httponly", "priority"}
)
_URL_PASSWORD = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]{1,20}://[^\s/?#@:\"'`<>]*:(?P<secret>[^\s/?#\"'`<>]+)@"
    r"(?=[^\s/?#@\"'`<>]+)"
)
_URL_USER_KEY = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}://(?P<secret>[\w~%.-]{16,})@")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\w.,+-])\d(?:[ -]?\d){12,18}(?![\w.-]?\d)")
#: Card brands: (IIN prefixes, lengths). Visa, Mastercard, American Express, Discover,
#: JCB, Diners Club, UnionPay.
_CARD_BRANDS: tuple[tuple[tuple[str, ...], tuple[int, ...]], ...] = (
    (("4",), (13, 16, 19)),
    (("51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27"), (16,)),
    (("34", "37"), (15,)),
    (("6011", "644", "645", "646", "647", "648", "649", "65"), (16, 19)),
    (("35",), (16, 19)),
    (("300", "301", "302", "303", "304", "305", "36", "38", "39"), (14, 16, 19)),
    (("62",), (16, 17, 18, 19)),
)

# --- random-looking values ---------------------------------------------------------------------
_TOKEN = re.compile(r"[A-Za-z0-9+/_~.=-]+")
#: detect-secrets' Base64HighEntropyString: a quoted string of the base64 alphabet whose
#: entropy is above 4.5 bits per character.
_QUOTED = re.compile(r"(['\"])(?P<value>[A-Za-z0-9+/\-_=]{20,})\1")
QUOTED_ENTROPY_LIMIT = 4.5
_BARE = re.compile(r"(?<![\w+/=~.%-])[A-Za-z0-9+/_~-]{20,}={0,2}(?![\w+/=~-]|\.\w)")
_HEX_OR_UUID = re.compile(r"(?i)(?:0x)?[0-9a-f-]+")
_SEPARATORS = re.compile(r"[-_.~]")
_CLASS = {
    **dict.fromkeys(string.ascii_uppercase, "u"),
    **dict.fromkeys(string.ascii_lowercase, "l"),
    **dict.fromkeys(string.digits, "d"),
}
_WORD = re.compile(r"[A-Z]?[a-z]{2,}|[A-Z]{3,}(?![a-z])")
_VOWEL = re.compile(r"[aeiouyAEIOUY]")
#: (length, bits per character), interpolated linearly by :func:`entropy_floor`.
_ENTROPY_FLOORS = (
    (16, 3.2), (20, 3.5), (24, 3.75), (32, 4.1), (40, 4.35), (48, 4.5), (64, 4.8),
    (88, 5.05), (128, 5.3),
)  # fmt: skip
#: Shortest random value masked after a key, and standing alone (characters).
MIN_KEYED_RANDOM_CHARS = 16
MIN_BARE_RANDOM_CHARS = 20
MIN_CLASS_SWITCHES = 0.3
MAX_WORD_SHARE = 0.6


def find_in_context(
    text: str, lowered: str | None = None, *, source_code: bool = False
) -> Iterator[Finding]:
    """Every secret the context rules find in ``text`` (may overlap; no e-mail here).

    Args:
        text: any text.
        lowered: ``text.lower()`` when the caller has it already.
        source_code: ``text`` is program code: a key/value pair counts only when its value
            is a string literal (``token = "abc"``, not ``token = config.token`` or a type
            annotation ``token: str``), and command-line flags and XML are not looked for.
    """
    lowered = text.lower() if lowered is None else lowered
    yield from _key_values(text, source_code)
    if "authorization" in lowered:
        yield from group_findings(_AUTHORIZATION, text, "SECRET", "secret")
    if "bearer" in lowered or "basic" in lowered or "token" in lowered:
        for match in _SCHEME.finditer(text):
            group = "secret" if match.group("secret") else "token"
            yield Finding(match.start(group), match.end(group), "SECRET")
    if "cookie" in lowered:
        yield from _cookies(text)
    if "://" in text:
        yield from group_findings(_URL_PASSWORD, text, "PASSWORD", "secret")
        for match in _URL_USER_KEY.finditer(text):
            user = match.group("secret")
            if (len(user) >= 32 and _HEX_OR_UUID.fullmatch(user)) or looks_random(user, 16):
                yield Finding(match.start("secret"), match.end("secret"), "SECRET")
    yield from _cards(text)
    for match in _QUOTED.finditer(text):
        if entropy(match.group("value")) > QUOTED_ENTROPY_LIMIT:
            yield Finding(match.start("value"), match.end("value"), "SECRET")
    for match in _BARE.finditer(text):
        if looks_random(match.group(0), MIN_BARE_RANDOM_CHARS):
            yield Finding(match.start(), match.end(), "SECRET")


def find_emails(text: str) -> Iterator[Finding]:
    """Every e-mail address in ``text`` (masked only where no other secret overlaps)."""
    if "@" in text:
        yield from group_findings(_EMAIL, text, "EMAIL")


def secret_key_name(key: str) -> str:
    """What a key says of its value: ``"secret"`` (always masked), ``"weak"`` (masked when
    random or 32+ hexadecimal digits), ``"other"`` (masked when random) or ``"id"``
    (an identifier: never masked for its entropy alone).

    ``DB_PASSWORD``, ``x-api-key``, ``clientSecret`` and ``session_id`` are secret;
    ``cloudant_key`` and ``cache_key`` weak; ``max_tokens``, ``token_type`` and ``author``
    other; ``request_id`` and ``commit_sha`` id.
    """
    words = _words(key)
    if not words:
        return "other"
    if words[-1] in _SECRET_WORDS or tuple(words[-2:]) in _SECRET_PAIRS:
        return "secret"
    if words[-1] in _ID_WORDS:
        return "id"
    if _WEAK_WORDS.intersection(words):
        return "weak"
    return "other"


def _words(key: str) -> list[str]:
    """``x-api-key`` -> ``["x", "api", "key"]``, ``clientSecret`` -> ``["client", "secret"]``."""
    return [w.lower() for w in _CAMEL.split(key.strip("-")) if w]


def looks_random(value: str, min_chars: int) -> bool:
    """Whether ``value`` looks like a generated credential rather than a word, a name or
    an identifier.

    It must have ``min_chars`` or more characters of the base64 alphabet, not be
    hexadecimal or a UUID or a path, mix upper and lower case letters and digits, switch
    between those often (30% of neighbours or more; ``HttpLib2Error`` switches rarely),
    keep under 60% of its characters in word-like runs (``Error``, ``Config``), and reach
    :func:`entropy_floor`. A value cut by ``-``, ``_``, ``.`` or ``~`` into three parts or
    more (``Qwen3-30B-A3B-Instruct``) is judged by its longest part.

    Measured on random base-62 strings: 89% of 16 characters pass, 94% of 20, 96% of 24,
    98% of 32; and 0 of the identifiers in the Python standard library and our
    dependencies that mix letters and digits, apart from embedded keys and base64 data.
    """
    if len(value) < min_chars or not _TOKEN.fullmatch(value) or _HEX_OR_UUID.fullmatch(value):
        return False
    if value[0] in "/.~" or value.count("/") > 3:
        return False  # a path
    parts = _SEPARATORS.split(value)
    if len(parts) >= 3:
        value = max(parts, key=len)
        if len(value) < MIN_KEYED_RANDOM_CHARS:
            return False
    return _random_characters(value)


def _random_characters(value: str) -> bool:
    classes = [_CLASS.get(c, "") for c in value]
    kinds = [k for k in classes if k]
    if {"u", "l", "d"} - set(kinds):
        return False
    switches = sum(a != b for a, b in itertools.pairwise(kinds)) / (len(kinds) - 1)
    if switches < MIN_CLASS_SWITCHES:
        return False
    words = sum(len(w) for w in _WORD.findall(value) if _VOWEL.search(w))
    if words >= MAX_WORD_SHARE * len(value):
        return False
    return entropy(value) >= entropy_floor(len(value))


def entropy_floor(length: int) -> float:
    """Least entropy (bits per character) of a random value of ``length`` characters: just
    under the 0.5th percentile of random base-62 strings of that length (3.2 bits at 16
    characters, 4.1 at 32, 4.8 at 64, 5.3 from 128 on)."""
    lengths = [n for n, _ in _ENTROPY_FLOORS]
    if length <= lengths[0]:
        return _ENTROPY_FLOORS[0][1]
    if length >= lengths[-1]:
        return _ENTROPY_FLOORS[-1][1]
    k = bisect.bisect_right(lengths, length) - 1
    (a, low), (b, high) = _ENTROPY_FLOORS[k], _ENTROPY_FLOORS[k + 1]
    return low + (high - low) * (length - a) / (b - a)


def _key_values(text: str, source_code: bool) -> Iterator[Finding]:
    for pattern in (_KEY_VALUE,) if source_code else (_KEY_VALUE, _FLAG, _XML):
        for match in pattern.finditer(text):
            key = match.group("key")
            group = "bare" if match.group("bare") is not None else "quoted"
            if source_code and (group == "bare" or match.group("q") == "`"):
                continue
            value = match.group(group)
            if key.lower() in _OWN_RULE or _NOT_A_VALUE.fullmatch(value.strip()):
                continue
            kind = secret_key_name(key)
            if kind == "secret" and _not_a_credential(key, value, text[match.end(group) :][:1]):
                kind = "other"
            if pattern is not _KEY_VALUE and kind != "secret":
                continue
            if _masked(kind, value):
                yield Finding(match.start(group), match.end(group), "SECRET")


def _masked(kind: str, value: str) -> bool:
    if kind == "secret":
        return True
    if kind == "id":
        return False
    if kind == "weak" and len(value) >= 32 and _HEX_OR_UUID.fullmatch(value):
        return True
    return looks_random(value, MIN_KEYED_RANDOM_CHARS)


def _not_a_credential(key: str, value: str, after: str) -> bool:
    """A secret-named key whose value is an object's repr (``Token{a64f992``,
    ``BinderProxy@2bd79ce``), or a session key whose value is no session token (one
    mixes letters and digits: ``Session: 30546173_4261722401`` is a counter)."""
    if after in ("{", "(") or _OBJECT_REPR.fullmatch(value):
        return True
    words = _words(key)
    session = words[-1] in _SESSION_WORDS or tuple(words[-2:]) in _SESSION_PAIRS
    return session and not (_LETTER.search(value) and _DIGIT.search(value))


def _cookies(text: str) -> Iterator[Finding]:
    for header in _COOKIE.finditer(text):
        offset = header.start("pairs")
        for pair in _COOKIE_PAIR.finditer(header.group("pairs")):
            name, value = pair.group("name").lower(), pair.group("value")
            if value and name not in _COOKIE_ATTRIBUTES:
                yield Finding(offset + pair.start("value"), offset + pair.end("value"), "SECRET")


def _cards(text: str) -> Iterator[Finding]:
    for match in _CARD.finditer(text):
        raw = match.group(0)
        separators = {c for c in raw if not c.isdigit()}
        if len(separators) > 1:
            continue
        digits = raw.replace(" ", "").replace("-", "")
        if _card_brand(digits) and _luhn(digits):
            yield Finding(match.start(), match.end(), "CARD")


def _card_brand(digits: str) -> bool:
    return any(
        len(digits) in lengths and digits.startswith(prefixes) for prefixes, lengths in _CARD_BRANDS
    )


def _luhn(digits: str) -> bool:
    """The Luhn (mod 10) check of ISO/IEC 7812 card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
