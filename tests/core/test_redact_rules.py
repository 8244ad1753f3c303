"""The masking rules' choices: what is masked, what is kept, and how placeholders read."""

from __future__ import annotations

import pytest

from core.models import Anomaly, Diagnosis, Severity
from core.proposals import Edit, FixProposal
from core.redact import (
    PLACEHOLDER,
    Redactor,
    find_secrets,
    mask_anomaly,
    mask_data,
    mask_proposal,
    scrub_secrets,
)
from core.redact.context import looks_random, secret_key_name
from tests.conftest import ASGI_LOG, SHARED_DATA
from tests.fakes import anomalies as A
from tests.fakes.secrets_corpus import CORPUS, luhn_number, random_token

KEPT = [
    "request 6f1c2a4e-8b7d-4c3e-9a1f-2b3c4d5e6f70 took 1.2s",  # UUID request id
    "deployed commit 3f9a1c2e8b7d6f5a4c3b2a1908f7e6d5c4b3a291 to prod",  # git sha
    "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",  # trace ids
    "upstream 10.0.4.17:8080 refused, retry via 192.168.1.20",  # IP addresses
    "LM response truncated (max_tokens=3000, needed=5790)",
    "token_type=bearer expires_in=3600 scope=read",
    "model=Qwen3-30B-A3B-Instruct-2507 answered in 2.1s",
    "raise HTTPException404NotFoundHandler for user 42",
    "order 4111111111111112 not found",  # 16 digits, Luhn-invalid: an id, not a card
    "Invalid token provided, validation failed for user bob",
    "password reset required=true for user_id=1234",
    "Authorization header missing",
    "Session: 30546173_4261722401 initialized by client WindowsUpdateAgent.",
    "ActivityRecord token=Token{a64f992 u0}",
]


@pytest.mark.parametrize("line", KEPT)
def test_ordinary_values_are_kept(line: str) -> None:
    assert scrub_secrets(line) == line


def test_the_shared_logs_lose_nothing_but_email_addresses() -> None:
    logs = [ASGI_LOG, *sorted((SHARED_DATA / "loghub").glob("*/*_2k.log"))]
    if not ASGI_LOG.exists():
        pytest.skip("../shared/data is not there")
    changed = []
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            labels = {f.label for f in find_secrets(line)}
            if labels - {"EMAIL"}:
                changed.append(line)
    assert changed == []


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("DB_PASSWORD", "secret"),
        ("x-api-key", "secret"),
        ("clientSecret", "secret"),
        ("session_id", "secret"),
        ("X-Amz-Security-Token", "secret"),
        ("cloudant_key", "weak"),
        ("max_tokens", "other"),
        ("token_type", "id"),
        ("author", "other"),
        ("request_id", "id"),
        ("commit_sha", "id"),
    ],
)
def test_key_names(key: str, kind: str) -> None:
    assert secret_key_name(key) == kind


def test_random_tokens_are_told_from_identifiers() -> None:
    assert looks_random(random_token("a", 24), 20)
    for word in ("HttpLib2ErrorWithResponse", "SetVariantPosVector3D", "Python3.11.4-Linux-x86_64"):
        assert not looks_random(word, 20)


def test_cards_need_a_brand_a_length_and_the_luhn_digit() -> None:
    visa = luhn_number("t", "4", 16)
    wrong = visa[:-1] + str((int(visa[-1]) + 1) % 10)
    assert scrub_secrets(f"card {visa}") == "card <CARD_1>"
    assert scrub_secrets(f"card {wrong}") == f"card {wrong}"
    assert scrub_secrets(f"id {luhn_number('t', '9', 16)}").startswith("id 9")


def test_a_url_password_keeps_user_and_host_and_an_email_yields_to_it() -> None:
    line = "postgresql://app:hunter2@db.example.com:5432/app and ops@example.com"
    assert (
        scrub_secrets(line) == "postgresql://app:<PASSWORD_1>@db.example.com:5432/app and <EMAIL_1>"
    )


def test_headers_keep_their_names_and_cookie_attributes() -> None:
    line = "Set-Cookie: sessionid=abc123def456; Path=/; HttpOnly; Authorization: Bearer x9y8z7w6v5"
    assert scrub_secrets(line) == (
        "Set-Cookie: sessionid=<SECRET_1>; Path=/; HttpOnly; Authorization: Bearer <SECRET_2>"
    )


def test_placeholders_are_stable_and_numbering_continues() -> None:
    redactor = Redactor()
    first, second = redactor.redact_all(
        [
            "Bearer abcDEF123456789xyz then bob@example.com",
            "again Bearer abcDEF123456789xyz, and carol@example.com",
        ]
    )
    assert first == "Bearer <SECRET_1> then <EMAIL_1>"
    assert second == "again Bearer <SECRET_1>, and <EMAIL_2>"
    assert scrub_secrets("token <SECRET_1> failed; password=hunter2") == (
        "token <SECRET_1> failed; password=<SECRET_2>"
    )


def test_an_escaped_and_a_plain_secret_share_a_placeholder() -> None:
    secret = "sk_live_" + random_token("same", 30)
    escaped = "\\u0073\\u006b" + secret[2:]
    redactor = Redactor()
    assert redactor.redact(f'{{"key": "{escaped}"}}') == '{"key": "<SECRET_1>"}'
    assert redactor.redact(f"key {secret}") == "key <SECRET_1>"


def test_source_code_masks_string_literals_not_expressions() -> None:
    code = Redactor(label_prefix="CODE_", source_code=True)
    text = 'token = config.token\napi_key: str | None = None\nPASSWORD = "hunter2"\n'
    masked = code.redact(text)
    assert (
        masked == 'token = config.token\napi_key: str | None = None\nPASSWORD = "<CODE_SECRET_1>"\n'
    )
    assert code.restore(masked) == text


def test_a_prefixed_redactor_restores_only_its_own_placeholders() -> None:
    code = Redactor(label_prefix="CODE_")
    masked = code.redact('API_KEY = "sk-abcdefghijklmnop123456"')
    assert masked == 'API_KEY = "<CODE_SECRET_1>"'
    restored = code.restore(masked + "  # from the log: <SECRET_1>")
    assert restored == 'API_KEY = "sk-abcdefghijklmnop123456"  # from the log: <SECRET_1>'


def test_mask_anomaly_masks_every_text_field_with_one_set_of_placeholders() -> None:
    secret = CORPUS[0].secret
    anomaly = A.keyerror(
        samples=[f"boom {secret}", f"again {secret}"],
        exception_message=f"'{secret}'",
        summary=f"KeyError for {secret}",
    ).model_copy(update={"details": {"key": f"value {secret}", "n": 3}})

    masked = mask_anomaly(anomaly)

    assert secret not in masked.model_dump_json()
    assert masked.fingerprint == anomaly.fingerprint and masked.count == anomaly.count
    assert {PLACEHOLDER.findall(s)[0] for s in masked.samples} == {"<AWS_KEY_1>"}
    assert masked.details["n"] == 3
    assert mask_anomaly(masked) is masked  # nothing left to mask


def test_mask_proposal_keeps_edits_byte_for_byte() -> None:
    secret = "ghp_" + random_token("edit", 36)
    anomaly: Anomaly = A.keyerror(samples=[f"token {secret}"])
    edit = Edit(
        path="app.py", old_text=f'TOKEN = "{secret}"\n', new_text="TOKEN = os.environ['T']\n"
    )
    proposal = FixProposal(
        fingerprint=anomaly.fingerprint,
        anomaly=anomaly,
        diagnosis=Diagnosis(
            root_cause=f"the token {secret} is hard-coded",
            severity_assessment=Severity.HIGH,
            confidence=0.5,
        ),
        title=f"Hard-coded {secret}",
        edits=[edit],
        reasoning=f"move {secret} out",
        created_at=A.LAST,
    )

    masked = mask_proposal(proposal)

    assert masked.edits == [edit]
    dumped = masked.model_dump_json(exclude={"edits"})
    assert secret not in dumped
    assert masked.diagnosis.root_cause == "the token <SECRET_1> is hard-coded"
    assert masked.anomaly.samples == ["token <SECRET_1>"]


def test_mask_data_masks_nested_strings_and_keys() -> None:
    secret = "xoxb-123456789012-1234567890123-" + random_token("slack", 24)
    data = {"error": f"slack said {secret}", "tries": [1, f"password={secret}"], secret: True}
    masked = mask_data(data)
    assert secret not in repr(masked)
    assert masked["tries"][0] == 1


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("mysqldump --password s3cr3t-Value db", "mysqldump --password <SECRET_1> db"),
        ("run --api-key=abc123 --verbose", "run --api-key=<SECRET_1> --verbose"),
        (
            "<Password>hunter2</Password><User>bob</User>",
            "<Password><SECRET_1></Password><User>bob</User>",
        ),
        ("  api_key: abcd1234efgh", "  api_key: <SECRET_1>"),
        ("Authorization: Digest abc123def", "Authorization: Digest <SECRET_1>"),
    ],
)
def test_other_places_a_credential_stands(line: str, masked: str) -> None:
    assert scrub_secrets(line) == masked
