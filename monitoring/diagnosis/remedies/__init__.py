"""Diagnosis remedies: the edits offline playbooks may propose, one module per failure class.

A remedy reads the code the evidence points at with :mod:`ast` and answers with a
:class:`~monitoring.diagnosis.remedies.base.Remedy`: a precise root cause and, only when
one edit is right in every reading of the evidence, that edit. None means the failure
class is not recognised (the playbook then words a generic root cause)::

    base.py       Failure (what the traceback says), Remedy, SourceFile (whole-line edits)
    web.py        request handlers: routes, client errors per framework, client input
    lookups.py    KeyError: 404 for an unknown id the client sent; a counter's default
    parsing.py    a parse of client input: 422 in a handler; a worker skips the message
    decoding.py   UnicodeDecodeError: fall back to Latin-1 (or replace) at the decode
    empty.py      ZeroDivisionError and IndexError on an empty collection
    nones.py      AttributeError/TypeError on None from a lookup that can miss
    awaits.py     a coroutine used as a value: the missing ``await``
    resources.py  a pool exhausted by a leak: release in ``finally``
    defaults.py   a mutable default argument shared between calls
    limits.py     a literal limit raised to a measured need (truncation, timeouts)

Every edit keeps whole lines, touches only files the evidence points at, and parses.
"""
