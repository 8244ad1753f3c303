"""Shared contracts (masking): credential formats learned from gitleaks' rule set.

Each :class:`Format` is a rule of gitleaks' ``config/gitleaks.toml`` (its id is the
format's name) re-written for Python ``re`` and for log text, or, where a comment says
so, a format from the vendor's own documentation. They cover what detect-secrets'
plugins lack: payment processors, other clouds, e-mail and chat APIs, hosting platforms,
LLM providers. Used by :func:`core.redact.formats.find_formats`. No errors are raised.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Format:
    """A credential format: ``regex`` (its group ``secret``, when it has one, is the
    secret) runs only when one of ``keywords`` occurs in the text."""

    name: str
    keywords: tuple[str, ...]
    regex: str
    label: str = "SECRET"

    @property
    def pattern(self) -> re.Pattern[str]:
        """``regex`` compiled (on first use: most formats never meet their keyword)."""
        return _compile(self.regex)


@functools.cache
def _compile(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _f(name: str, keywords: tuple[str, ...], regex: str, label: str = "SECRET") -> Format:
    return Format(name, keywords, regex, label)


_END = r"(?![\w-])"  # a token ends where no word character or dash follows

#: Formats by vendor; the name is gitleaks' rule id unless a comment says otherwise.
FORMATS: tuple[Format, ...] = (
    # --- keys and tokens that are whole documents -------------------------------------
    _f(
        "private-key",
        ("-----BEGIN",),
        r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]{0,20000}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:(?:\s|\\[nr])*[A-Za-z0-9+/=]{16,})*)",  # or, cut short, its base64 lines
        "KEY",
    ),
    _f("age-secret-key", ("AGE-SECRET-KEY-1",), r"AGE-SECRET-KEY-1[0-9A-Z]{58}", "KEY"),
    _f("jwt", ("eyJ",), r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*", "JWT"),
    # --- clouds -----------------------------------------------------------------------
    _f(
        "aws-access-token",
        (
            "AKIA",
            "ASIA",
            "ABIA",
            "ACCA",
            "A3T",
            "AGPA",
            "AIDA",
            "AROA",
            "AIPA",
            "ANPA",
            "ANVA",
            "APKA",
        ),
        r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
        r"[A-Z0-9]{16}\b",
        "AWS_KEY",
    ),
    _f("aws-amazon-bedrock-api-key", ("ABSK",), r"\bABSK[A-Za-z0-9+/]{109,269}={0,2}"),
    _f("gcp-api-key", ("AIza",), rf"\bAIza[\w-]{{35}}{_END}"),
    # Google's OAuth client secrets and access tokens (Google Identity documentation).
    _f("google-oauth-client-secret", ("GOCSPX-",), rf"\bGOCSPX-[\w-]{{28}}{_END}"),
    _f("google-oauth-access-token", ("ya29.",), r"\bya29\.[\w-]{20,}"),
    _f(
        "azure-ad-client-secret",
        ("q~",),
        r"(?<![\w~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])",
    ),
    _f("alibaba-access-key-id", ("LTAI",), r"\bLTAI[A-Za-z0-9]{20}\b"),
    _f("digitalocean-pat", ("_v1_",), r"\bdo[opr]_v1_[a-f0-9]{64}\b"),
    _f("heroku-api-key-v2", ("HRKU-",), rf"\bHRKU-AA[\w-]{{58}}{_END}"),
    _f(
        "flyio-access-token",
        ("fo1_", "fm1", "fm2_"),
        r"\b(?:fo1_[\w-]{43}|fm[12][ar]?_[\w+/]{100,}={0,3})",
    ),
    _f("doppler-api-token", ("dp.pt.",), r"\bdp\.pt\.[A-Za-z0-9]{43}"),
    _f("vault-service-token", ("hvs.", "hvb."), r"\bhv[sb]\.[\w-]{90,300}"),
    _f("hashicorp-tf-api-token", ("atlasv1",), r"\b[A-Za-z0-9]{14}\.atlasv1\.[\w=-]{60,70}"),
    _f("pulumi-api-token", ("pul-",), r"\bpul-[a-f0-9]{40}\b"),
    _f("databricks-api-token", ("dapi",), r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    _f("dynatrace-api-token", ("dt0c01.",), r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    _f(
        "grafana-api-key",
        ("glc_", "glsa_", "eyjrijoi"),
        r"\b(?:glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"
        r"|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})",
    ),
    _f(
        "new-relic-key",
        ("NRAK-", "NRII-", "NRJS-"),
        r"\b(?:NRAK-[A-Z0-9]{27}|NRII-[\w-]{32}|NRJS-[a-f0-9]{19})\b",
    ),
    _f("sentry-token", ("sntryu_", "sntrys_"), r"\b(?:sntryu_[a-f0-9]{64}|sntrys_[\w+/=]{60,})"),
    _f("cloudflare-origin-ca-key", ("v1.0-",), r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    _f("clickhouse-cloud-api-secret-key", ("4b1d",), r"\b4b1d[A-Za-z0-9]{38}\b"),
    _f("openshift-user-token", ("sha256~",), rf"\bsha256~[\w-]{{43}}{_END}"),
    _f("octopus-deploy-api-key", ("API-",), r"\bAPI-[A-Z0-9]{26}\b"),
    _f("planetscale-token", ("pscale_",), r"\bpscale_(?:tkn|pw|oauth)_[\w=.-]{32,64}"),
    _f("scalingo-api-token", ("tk-us-",), rf"\btk-us-[\w-]{{48}}{_END}"),
    _f("prefect-api-token", ("pnu_",), r"\bpnu_[A-Za-z0-9]{36}\b"),
    # --- payment processors ---------------------------------------------------------------
    # Stripe secret and restricted keys (up to 255 characters today), webhook secrets.
    _f("stripe-access-token", ("sk_", "rk_"), r"\b[sr]k_(?:test|live|prod)_[A-Za-z0-9]{10,247}\b"),
    _f("stripe-webhook-secret", ("whsec_",), r"\bwhsec_[A-Za-z0-9+/=]{24,}"),  # Stripe docs
    _f(
        "square-access-token",
        ("sq0atp-", "EAAA", "sq0csp-"),
        rf"\b(?:EAAA|sq0atp-)[\w-]{{22,60}}{_END}|\bsq0csp-[\w-]{{43}}",
    ),
    # Braintree (PayPal) access tokens: access_token$production$<merchant>$<32 hex>.
    _f(
        "braintree-access-token",
        ("access_token$",),
        r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}",
    ),
    _f("shippo-api-token", ("shippo_",), r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}\b"),
    _f("easypost-api-token", ("EZAK", "EZTK"), r"\bEZ[AT]K[A-Za-z0-9]{54}\b"),
    _f("duffel-api-token", ("duffel_",), rf"\bduffel_(?:test|live)_[\w=-]{{43}}{_END}"),
    _f(
        "flutterwave-key",
        ("FLWSECK", "FLWPUBK"),
        r"\bFLW(?:SECK|PUBK)(?:_TEST)?-[a-hA-H0-9]{12,32}(?:-X)?",
    ),
    # --- e-mail, SMS and chat APIs ----------------------------------------------------------
    _f("sendgrid-api-token", ("SG.",), rf"\bSG\.[\w=.-]{{66}}{_END}"),
    _f("mailgun-api-key", ("key-",), r"\b(?:pub)?key-[a-f0-9]{32}\b"),
    _f(
        "sendinblue-api-token",
        ("xkeysib-", "xsmtpsib-"),
        r"\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}\b",
    ),
    _f(
        "slack-token",
        ("xox", "xapp"),
        r"\bxox[abposre]-[\w-]{8,}|\bxoxe\.xox[bp]-\d-[A-Za-z0-9]{100,}|\bxapp-\d-[\w-]{8,}",
    ),
    _f(
        "slack-webhook-url",
        ("hooks.slack.com",),
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[\w+/-]{20,})",
    ),
    # Discord webhooks: https://discord.com/api/webhooks/<id>/<token> (Discord docs).
    _f(
        "discord-webhook-url",
        ("discord",),
        r"discord(?:app)?\.com/api/webhooks/(?P<secret>\d{5,30}/[\w-]{20,})",
    ),
    _f(
        "microsoft-teams-webhook",
        ("webhook.office.com",),
        r"\.webhook\.office\.com/webhookb2/(?P<secret>[\w@/-]{40,})",
    ),
    _f("telegram-bot-api-token", (":A",), rf"\b\d{{5,16}}:A[\w-]{{34}}{_END}"),
    # --- code hosting and package registries ----------------------------------------------
    _f(
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b",
    ),
    _f("github-fine-grained-pat", ("github_pat_",), r"\bgithub_pat_\w{22,255}"),
    _f(
        "gitlab-token",
        ("gl", "gr1348941"),
        rf"\bgl(?:pat|dt|ft|rt|soat|cbt|ptt|imt|agent|oas|ffct)-[\w.-]{{20,}}{_END}"
        r"|\bGR1348941[\w-]{20,}",
    ),
    _f("npm-access-token", ("npm_",), r"\bnpm_[A-Za-z0-9]{36}\b"),
    _f("pypi-upload-token", ("pypi-",), r"\bpypi-AgE[\w-]{50,}"),
    _f("rubygems-api-token", ("rubygems_",), r"\brubygems_[a-f0-9]{48}\b"),
    _f("clojars-api-token", ("CLOJARS_",), r"\bCLOJARS_[a-zA-Z0-9]{60}\b"),
    # Docker Hub personal access tokens (Docker documentation).
    _f("docker-hub-pat", ("dckr_pat_",), r"\bdckr_pat_[\w-]{27,}"),
    _f(
        "sourcegraph-access-token",
        ("sgp_",),
        r"\bsgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}\b",
    ),
    _f(
        "artifactory-api-key",
        ("AKCp", "cmVmd"),
        r"\b(?:AKCp[A-Za-z0-9]{69}|cmVmd[A-Za-z0-9]{59})\b",
    ),
    # --- SaaS APIs ----------------------------------------------------------------------
    _f(
        "shopify-token",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b",
    ),
    _f("atlassian-api-token", ("ATATT3",), rf"\bATATT3[\w=-]{{186}}{_END}"),
    _f("linear-api-key", ("lin_api_",), r"\blin_api_[A-Za-z0-9]{40}\b"),
    # Notion: ntn_ tokens (gitleaks) and the older secret_ integration tokens (Notion docs).
    _f(
        "notion-api-token",
        ("ntn_", "secret_"),
        r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b|\bsecret_[A-Za-z0-9]{43}\b",
    ),
    _f("postman-api-token", ("PMAK-",), r"\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}\b"),
    _f("airtable-pat", ("pat",), r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b"),
    _f(
        "harness-api-key",
        ("pat.", "sat."),
        r"\b(?:pat|sat)\.[\w-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}\b",
    ),
    _f("facebook-page-access-token", ("EAAM", "EAAC"), r"\bEAA[MC][A-Za-z0-9]{100,}"),
    _f("typeform-api-token", ("tfp_",), r"\btfp_[\w.=-]{59}"),
    _f("frameio-api-token", ("fio-u-",), rf"\bfio-u-[\w=-]{{64}}{_END}"),
    _f("readme-api-token", ("rdme_",), r"\brdme_[a-z0-9]{70}\b"),
    _f("infracost-api-token", ("ico-",), r"\bico-[A-Za-z0-9]{32}\b"),
    _f("adobe-client-secret", ("p8e-",), r"\bp8e-[A-Za-z0-9]{32}\b"),
    _f("maxmind-license-key", ("_mmk",), r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\b"),
    _f(
        "1password-token",
        ("ops_eyJ", "A3-"),
        r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}"
        r"|\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})(?:-[A-Z0-9]{5}){3}\b",
    ),
    # --- LLM providers ----------------------------------------------------------------------
    # sk- keys of OpenAI-compatible providers (OpenAI's sk-proj-/sk-svcacct-, Anthropic's
    # sk-ant-api03-, DeepSeek...), from gitleaks' openai-api-key and anthropic-api-key.
    _f("sk-api-key", ("sk-",), r"\bsk-(?=[\w-]*\d)(?:\w{2,}-){0,2}[\w-]{16,}"),
    _f("perplexity-api-key", ("pplx-",), r"\bpplx-[A-Za-z0-9]{48}\b"),
    _f("huggingface-access-token", ("hf_", "api_org_"), r"\b(?:hf|api_org)_[A-Za-z0-9]{34}\b"),
    # Groq (gsk_) and Replicate (r8_) keys, from the providers' documentation.
    _f("groq-api-key", ("gsk_",), r"\bgsk_[A-Za-z0-9]{52}\b"),
    _f("replicate-api-token", ("r8_",), r"\br8_[A-Za-z0-9]{37}\b"),
)
