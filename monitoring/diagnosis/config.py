"""Diagnosis: which LM to ask and how to reach it (no dspy import: cheap to build)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class LMConfig:
    """Which LM diagnoses, and how it is reached (``MENDBOT_LM``, ``OPENAI_*``).

    Attributes:
        model: a LiteLLM model string, e.g. ``openai/gpt-4o-mini``.
        api_key: the provider key, or None (a local server may need none).
        base_url: an OpenAI-compatible base URL, e.g. ``http://127.0.0.1:8765/v1``.
        timeout_seconds: per request (read, write and pool waits).
        max_retries: retries on timeouts, 5xx, rate limits and connection errors.
        max_tokens: most tokens the LM may write per request.
        adapter: ``chat`` or ``json`` (:mod:`monitoring.diagnosis.adapter`).
    """

    model: str
    api_key: str | None = None
    base_url: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 2
    max_tokens: int = 4_000
    adapter: Literal["chat", "json"] = "chat"

    def __repr__(self) -> str:  # never print the key
        return f"LMConfig(model={self.model!r}, base_url={self.base_url!r})"
