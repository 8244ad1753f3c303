"""Proposal ids never run out, stay unique across processes, and keep the typed format."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from bot.slack.commands import PROPOSAL_ID, parse_mention
from fixes.persistence.db import Database
from fixes.persistence.store import ProposalStore
from tests.fakes.proposals import make_proposal

SECOND = datetime(2026, 11, 21, 2, 33, 0, 250_000, tzinfo=UTC)
BASE = "fix_20261121_023300"


def test_two_thousand_proposals_in_one_second_all_get_ids(database_url: str) -> None:
    """The old scheme gave up after 1,000 suffixes (and tried them one by one)."""
    store = ProposalStore(Database(database_url))
    started = time.monotonic()
    ids = [
        store.add(make_proposal([], fingerprint=f"fp{n}", created_at=SECOND)).id
        for n in range(2000)
    ]
    seconds = time.monotonic() - started
    print(f"2,000 adds in one second's id space: {seconds:.1f} s")
    assert ids[:3] == [BASE, f"{BASE}_2", f"{BASE}_3"]
    assert ids[-1] == f"{BASE}_2000"
    assert len(set(ids)) == 2000
    assert all(PROPOSAL_ID.fullmatch(i) for i in ids)
    assert store.get(f"{BASE}_1234").fingerprint == "fp1233"


def test_writers_that_do_not_share_a_hint_still_get_unique_ids(database_url: str) -> None:
    """Separate stores stand for separate processes: only the primary key is shared."""
    stores = [ProposalStore(Database(database_url)) for _ in range(4)]
    ids: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def writer(store: ProposalStore, n: int) -> None:
        try:
            for k in range(40):
                made = store.add(make_proposal([], fingerprint=f"w{n}-{k}", created_at=SECOND))
                with lock:
                    ids.append(made.id)
        except BaseException as error:  # pragma: no cover - the assertion shows it
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids) == len(set(ids)) == 160
    assert set(ids) == {BASE, *(f"{BASE}_{n}" for n in range(2, 161))}


def test_a_stale_hint_skips_past_ids_another_process_took(database_url: str) -> None:
    here, elsewhere = ProposalStore(Database(database_url)), ProposalStore(Database(database_url))
    assert here.add(make_proposal([], fingerprint="a", created_at=SECOND)).id == BASE
    for n in range(9):  # the other process takes _2 .. _10
        elsewhere.add(make_proposal([], fingerprint=f"b{n}", created_at=SECOND))
    assert here.add(make_proposal([], fingerprint="c", created_at=SECOND)).id == f"{BASE}_11"
    later = SECOND.replace(second=1)
    assert here.add(make_proposal([], fingerprint="d", created_at=later)).id == f"{BASE[:-2]}01"


def test_long_suffixes_are_what_people_can_type() -> None:
    command = parse_mention(f"<@U0BOT> implement {BASE}_123456")
    assert (command.name, command.proposal_id) == ("implement", f"{BASE}_123456")
    assert parse_mention(f"implement {BASE}_1234567890123").name == "help"  # not an id
