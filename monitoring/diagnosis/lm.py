"""Diagnosis LM setup: one ``dspy.LM`` from an :class:`LMConfig`, used through ``dspy.context``.

``MENDBOT_LM`` is a LiteLLM model string (``openai/gpt-4o-mini``); ``OPENAI_API_KEY`` and
``OPENAI_BASE_URL`` point it at any OpenAI-compatible server. Timeouts
(``MENDBOT_LM_TIMEOUT_SECONDS``, per request: read, write and pool waits) and retries
(``MENDBOT_LM_MAX_RETRIES``, DSPy's exponential backoff from 1 s, on timeouts, 5xx, rate
limits and connection errors) and the output cap (``MENDBOT_LM_MAX_TOKENS``) are set
here. DSPy's response cache is off (mendbot caches
diagnoses itself, keyed by the code).

Engine: dspy 3.4's default ``engine="auto"`` sends an OpenAI-compatible chat request
through its vendored ``lm15`` HTTP client, *unless* ``OPENAI_BASE_URL`` (or
``OPENAI_API_BASE``) is set in the process environment, in which case it falls back to
LiteLLM, whose import alone costs ~120 MB of RSS. mendbot reads that very variable, so
:func:`build_lm` asks for ``engine="lm15"`` whenever lm15 can carry the request (the base
URL and key are then passed explicitly) and keeps ``"auto"`` (LiteLLM) only for models
lm15 cannot route.

Nothing here is imported unless ``MENDBOT_LM`` is set: importing dspy costs ~60 MB.
"""

from __future__ import annotations

import logging
from typing import Any

import dspy

from monitoring.diagnosis.config import LMConfig

logger = logging.getLogger("mendbot.diagnosis")


def build_lm(config: LMConfig) -> tuple[dspy.LM, str]:
    """The LM the diagnoser uses, and the engine that will serve it.

    Returns:
        ``(lm, engine)`` where ``engine`` is ``"lm15"`` (DSPy's own HTTP client) or
        ``"litellm"``.

    Raises:
        ValueError: ``config.model`` is empty or not a model string DSPy accepts.
    """
    if not config.model:
        raise ValueError("MENDBOT_LM is not set")
    kwargs: dict[str, Any] = {
        "timeout": config.timeout_seconds,
        "num_retries": config.max_retries,
        "cache": False,
        "max_tokens": config.max_tokens,
    }
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if config.base_url:
        kwargs["api_base"] = config.base_url.rstrip("/")
    try:
        native = _construct(config.model, "lm15", kwargs)
        if _native_ok(native):
            return native, "lm15"
    except Exception as error:  # lm15 refuses this configuration: LiteLLM serves it
        logger.debug("lm15 cannot serve %s: %s", config.model, error)
    return _construct(config.model, "auto", kwargs), "litellm"


def _construct(model: str, engine: str, kwargs: dict[str, Any]) -> dspy.LM:
    """``dspy.LM``; reasoning models (which refuse a small output cap) get none."""
    from dspy.utils.exceptions import LMConfigurationError

    try:
        return dspy.LM(model, engine=engine, **kwargs)
    except LMConfigurationError:
        return dspy.LM(model, engine=engine, **{**kwargs, "max_tokens": None})


def _native_ok(lm: dspy.LM) -> bool:
    """True when DSPy's backend selection keeps this LM on lm15 (no I/O)."""
    try:
        from dspy.clients.backend_selection import select_backend
    except ImportError:  # a DSPy without lm15: nothing to choose
        return False
    try:
        return bool(select_backend(lm).native)
    except Exception:
        return False
