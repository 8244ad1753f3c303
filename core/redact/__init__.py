"""Shared contracts (masking): secrets never leave, and never rest in clear.

Every text from a log or an LM is masked where it enters: records become anomalies
(``mask_anomaly``), proposals are built and stored (``mask_proposal``), audit facts are
written (``mask_data``), LM inputs are sent and errors are shown (``Redactor``,
``scrub_secrets``). A secret becomes a stable placeholder (``<SECRET_1>``, ``<KEY_2>``...).

    finding.py    Finding (a span and a label), the labels
    formats.py    credentials by format: detect-secrets' plugins, and the formats of
    gitleaks.py   75 formats learned from gitleaks' rule set (and vendors' docs)
    context.py    credentials by context: key/value pairs, headers, URLs, cards, e-mail,
                  random-looking tokens
    encodings.py  the decoded views secrets hide in: JSON escapes, URL encoding, base64
    redactor.py   find_secrets, Redactor (stable placeholders), scrub_secrets, PLACEHOLDER
    records.py    mask_anomaly, mask_proposal, mask_data
"""

from core.redact.records import mask_anomaly, mask_data, mask_proposal
from core.redact.redactor import PLACEHOLDER, Redactor, find_secrets, scrub_secrets

__all__ = [
    "PLACEHOLDER",
    "Redactor",
    "find_secrets",
    "mask_anomaly",
    "mask_data",
    "mask_proposal",
    "scrub_secrets",
]
