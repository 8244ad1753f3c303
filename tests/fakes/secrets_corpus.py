"""Test support: a corpus of real-world secret formats, with fake values, in log lines.

Each :class:`Planted` is one format as a service would leak it into its log: the secret,
the message that carries it (as the application, a library or a traceback writes it),
where the format is documented, and the *needles*: every form of the secret a leak
would show (the value, and how the line writes it when it is escaped or encoded). Values
are generated from the format's rule (prefix, alphabet, length, check digit) with a seeded
random generator, so they are stable across runs and belong to nobody.

Sources: ``gitleaks`` = a rule id of gitleaks' ``config/gitleaks.toml``; ``detect-secrets``
= a plugin of Yelp's detect-secrets; otherwise the vendor's documentation, or ``context``
for our own context rules (``core/redact/context.py``).
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from dataclasses import dataclass, field

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


@dataclass(frozen=True)
class Planted:
    """One secret format planted in a log message.

    Attributes:
        name: the format, e.g. ``Stripe live secret key``.
        source: where the format is documented (see the module docstring).
        secret: the secret value.
        message: a log message carrying it (without timestamp, level and logger).
        needles: every string whose presence in an output would be a leak.
        multiline: the message spans several lines (a traceback, a key block).
    """

    name: str
    source: str
    secret: str
    message: str
    needles: tuple[str, ...] = field(default=())
    multiline: bool = False

    def forms(self) -> tuple[str, ...]:
        """The needles, or the secret itself when none were given."""
        return self.needles or (self.secret,)


def _rng(name: str) -> random.Random:
    return random.Random(f"mendbot-corpus:{name}")


def rand(name: str, alphabet: str, length: int) -> str:
    """``length`` characters of ``alphabet``, the same for the same ``name``."""
    r = _rng(name)
    return "".join(r.choice(alphabet) for _ in range(length))


def random_token(name: str, length: int) -> str:
    """A base-62 token with upper and lower case letters and digits (as generated keys are)."""
    r = _rng(name)
    while True:
        value = "".join(r.choice(ALNUM) for _ in range(length))
        mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
        if mixed and sum(c.isdigit() for c in value) >= 2:
            return value


def luhn_number(name: str, prefix: str, length: int) -> str:
    """A card number with ``prefix``, ``length`` digits and a valid Luhn check digit."""
    body = prefix + rand(name, string.digits, length - len(prefix) - 1)
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return body + str((10 - total % 10) % 10)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(name: str) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64url(json.dumps({"sub": rand(name, string.digits, 8), "role": "admin"}).encode())
    return f"{header}.{payload}.{rand(name + 'sig', URLSAFE, 43)}"


def _pem(name: str, kind: str, lines: int = 6) -> tuple[str, str]:
    """A private key block and its first body line (a needle)."""
    body = [rand(f"{name}{n}", B64, 64) for n in range(lines)]
    block = f"-----BEGIN {kind}-----\n" + "\n".join(body) + f"\n-----END {kind}-----"
    return block, body[0]


def _grouped(number: str, sizes: tuple[int, ...], separator: str) -> str:
    parts, position = [], 0
    for size in sizes:
        parts.append(number[position : position + size])
        position += size
    return separator.join(parts)


class _Entries(list[Planted]):
    """A list of entries with ``add`` for the common case (needles default to the secret)."""

    def add(self, name: str, source: str, secret: str, message: str, *needles: str) -> None:
        self.append(Planted(name, source, secret, message, tuple(needles) or (secret,)))


def _clouds() -> list[Planted]:
    """Clouds."""
    p = _Entries()
    v = "AKIA" + rand("aws-id", string.ascii_uppercase + "234567", 16)
    p.add(
        "AWS access key id",
        "gitleaks aws-access-token; detect-secrets AWSKeyDetector",
        v,
        f"boto3 PutObject to bucket invoices failed: InvalidAccessKeyId for {v}",
    )
    v = rand("aws-secret", B64, 40)
    p.add(
        "AWS secret access key",
        "detect-secrets AWSKeyDetector; context (key/value)",
        v,
        f"aws configure dump: aws_secret_access_key={v} region=eu-west-1",
    )
    v = "FwoGZXIvYXdzE" + rand("aws-session", B64, 180)
    p.add(
        "AWS session token",
        "context (header key/value)",
        v,
        f"sts assume-role retry with X-Amz-Security-Token: {v}",
    )
    v = "AIza" + rand("gcp", URLSAFE, 35)
    p.add(
        "Google Cloud API key",
        "gitleaks gcp-api-key",
        v,
        f"geocoder HTTP 403 for https://maps.googleapis.com/maps/api/geocode/json?address=Lyon&key={v}",
    )
    v = "GOCSPX-" + rand("gocspx", URLSAFE, 28)
    p.add(
        "Google OAuth client secret",
        "Google Identity docs",
        v,
        f"oauth2 token exchange refused: client_secret={v} invalid_client",
    )
    v = "ya29.a0" + rand("ya29", URLSAFE, 80)
    p.add(
        "Google OAuth access token",
        "Google Identity docs",
        v,
        f"drive files.list answered 401 UNAUTHENTICATED for access token ya29.{v[5:]}",
        v,
    )
    key, first = _pem("gcp-sa", "PRIVATE KEY")
    escaped = json.dumps({"type": "service_account", "private_key": key})
    p.add(
        "GCP service account key (JSON, escaped newlines)",
        "gitleaks private-key",
        first,
        f"credentials file rejected: {escaped}",
        first,
    )
    v = rand("azure-storage", B64, 86) + "=="
    p.add(
        "Azure Storage account key",
        "detect-secrets AzureStorageKeyDetector",
        v,
        "blob upload failed with DefaultEndpointsProtocol=https;AccountName=prodlogs;"
        f"AccountKey={v};EndpointSuffix=core.windows.net",
    )
    v = rand("azure-ad", ALNUM, 3) + "8Q~" + rand("azure-ad-2", ALNUM + "_~.-", 34)
    p.add(
        "Azure AD client secret",
        "gitleaks azure-ad-client-secret",
        v,
        f"msal confidential client login failed for app 7c1e with {v} (AADSTS7000215)",
    )
    v = rand("azure-sas", B64, 43) + "="
    written = urllib.parse.quote(v, safe="")
    p.add(
        "Azure SAS signature (URL-encoded)",
        "context (query string)",
        v,
        "blob GET https://prodlogs.blob.core.windows.net/exports/report.pdf?sv=2022-11-02"
        f"&sr=b&sp=r&se=2026-12-01T00%3A00%3A00Z&sig={written} returned 403",
        v,
        written,
    )
    v = "LTAI" + rand("alibaba", ALNUM, 20)
    p.add(
        "Alibaba Cloud AccessKey id",
        "gitleaks alibaba-access-key-id",
        v,
        f"oss client signature mismatch for access key {v}",
    )
    v = "dop_v1_" + rand("do", HEX, 64)
    p.add(
        "DigitalOcean token",
        "gitleaks digitalocean-pat",
        v,
        f"doctl droplet list unauthorized with {v}",
    )
    v = "HRKU-AA" + rand("heroku", URLSAFE, 58)
    p.add("Heroku API key", "gitleaks heroku-api-key-v2", v, f"heroku releases API 401 for {v}")
    v = "hvs." + rand("vault", URLSAFE, 95)
    p.add(
        "HashiCorp Vault token",
        "gitleaks vault-service-token",
        v,
        f"vault read secret/data/app permission denied (token {v})",
    )
    v = "dapi" + rand("databricks", HEX, 32)
    p.add("Databricks token", "gitleaks databricks-api-token", v, f"spark job submit 403 using {v}")
    v = "dp.pt." + rand("doppler", ALNUM, 43)
    p.add("Doppler token", "gitleaks doppler-api-token", v, f"doppler secrets download failed: {v}")
    v = "pul-" + rand("pulumi", HEX, 40)
    p.add(
        "Pulumi access token",
        "gitleaks pulumi-api-token",
        v,
        f"pulumi up aborted, token {v} expired",
    )
    return p


def _payments() -> list[Planted]:
    """Payment processors."""
    p = _Entries()
    v = "sk_live_" + random_token("stripe-sk", 99)
    p.add(
        "Stripe live secret key",
        "gitleaks stripe-access-token; detect-secrets StripeDetector",
        v,
        f"stripe.error.AuthenticationError: Invalid API Key provided: {v}",
    )
    v = "rk_live_" + random_token("stripe-rk", 24)
    p.add(
        "Stripe restricted key",
        "gitleaks stripe-access-token",
        v,
        f"refund worker could not list charges with restricted key {v}",
    )
    v = "whsec_" + random_token("stripe-wh", 32)
    p.add(
        "Stripe webhook signing secret",
        "Stripe docs",
        v,
        f"webhook signature verification failed (endpoint secret {v})",
    )
    v = "EAAA" + rand("square", URLSAFE, 60)
    p.add(
        "Square access token",
        "gitleaks square-access-token",
        v,
        f"square payments API returned UNAUTHORIZED for {v}",
    )
    v = f"access_token$production${rand('bt-m', LOWER_ALNUM, 16)}${rand('bt', HEX, 32)}"
    p.add("Braintree access token", "Braintree docs", v, f"braintree gateway init failed: {v}")
    v = "E" + random_token("paypal", 79)
    p.add(
        "PayPal REST client secret",
        "context (key/value)",
        v,
        f"paypal oauth2 token request 401 client_id=AeA1QIZXiflr1 client_secret={v}",
    )
    for brand, prefix, length, sizes, sep in (
        ("Visa", "4", 16, (4, 4, 4, 4), " "),
        ("Mastercard", "53", 16, (4, 4, 4, 4), "-"),
        ("American Express", "37", 15, (15,), ""),
    ):
        number = luhn_number(brand, prefix, length)
        written = _grouped(number, sizes, sep)
        p.add(
            f"{brand} card number",
            "context (Luhn)",
            number,
            f"charge declined by issuer for {brand.lower()} card {written} (do_not_honor)",
            written,
        )
    return p


def _messaging() -> list[Planted]:
    """E-mail, SMS and chat APIs."""
    p = _Entries()
    v = "SG." + rand("sendgrid", URLSAFE, 22) + "." + rand("sendgrid2", URLSAFE, 43)
    p.add(
        "SendGrid API key",
        "gitleaks sendgrid-api-token; detect-secrets SendGridDetector",
        v,
        f"sendgrid mail send 403 Forbidden with key {v}",
    )
    v = "key-" + rand("mailgun", HEX, 32)
    p.add(
        "Mailgun API key",
        "gitleaks mailgun-private-api-token",
        v,
        f"mailgun messages endpoint rejected {v}",
    )
    v = rand("mailchimp", HEX, 32) + "-us12"
    p.add(
        "Mailchimp API key",
        "detect-secrets MailchimpDetector",
        v,
        f"mailchimp audience sync: apikey {v} is disabled",
    )
    v = "xkeysib-" + rand("brevo", HEX, 64) + "-" + rand("brevo2", ALNUM, 16)
    p.add(
        "Brevo (Sendinblue) API key",
        "gitleaks sendinblue-api-token",
        v,
        f"transactional email queue halted: brevo said key {v} unknown",
    )
    v = "8f2c61d4-5a3b-4e7f-9c1d-" + rand("postmark", HEX, 12)
    p.add(
        "Postmark server token (header)",
        "context (header key/value)",
        v,
        f"postmark /email 422 with header X-Postmark-Server-Token: {v}",
    )
    v = "SK" + rand("twilio-sk", HEX, 32)
    p.add(
        "Twilio API key SID",
        "detect-secrets TwilioKeyDetector",
        v,
        f"twilio messages create failed for api key {v}",
    )
    sid, token = "AC" + rand("twilio-ac", HEX, 32), rand("twilio-token", HEX, 32)
    p.add(
        "Twilio auth token (URL credentials)",
        "context (URL credentials)",
        token,
        f"POST https://{sid}:{token}@api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json 401",
    )
    v = random_token("vonage", 16)
    p.add(
        "Vonage SMS API secret",
        "context (key/value)",
        v,
        f"sms fallback provider refused api_key=a1b2c3d4 api_secret={v}",
    )
    v = f"xoxb-{rand('xoxb1', string.digits, 12)}-{rand('xoxb2', string.digits, 13)}-{random_token('xoxb3', 24)}"
    p.add(
        "Slack bot token",
        "gitleaks slack-bot-token; detect-secrets SlackDetector",
        v,
        f"slack_sdk.errors.SlackApiError: invalid_auth for {v}",
    )
    v = f"xoxp-{rand('xoxp1', string.digits, 12)}-{rand('xoxp2', string.digits, 12)}-{rand('xoxp3', string.digits, 13)}-{rand('xoxp4', HEX, 32)}"
    p.add(
        "Slack user token", "gitleaks slack-user-token", v, f"slack export job used user token {v}"
    )
    v = f"xapp-1-A0{rand('xapp1', string.ascii_uppercase + string.digits, 9)}-{rand('xapp2', string.digits, 13)}-{rand('xapp3', HEX, 64)}"
    p.add(
        "Slack app-level token", "gitleaks slack-app-token", v, f"socket mode connect failed ({v})"
    )
    v = f"T0{rand('hook1', string.ascii_uppercase + string.digits, 8)}/B0{rand('hook2', string.ascii_uppercase + string.digits, 8)}/{random_token('hook3', 24)}"
    p.add(
        "Slack incoming webhook URL",
        "gitleaks slack-webhook-url; detect-secrets SlackDetector",
        v,
        f"alert fan-out POST https://hooks.slack.com/services/{v} returned 404 no_service",
    )
    v = f"{rand('dhook1', string.digits, 18)}/{rand('dhook2', URLSAFE, 68)}"
    p.add(
        "Discord webhook URL",
        "Discord docs",
        v,
        f"discord notify failed https://discord.com/api/webhooks/{v} 401",
    )
    v = (
        "MT"
        + rand("discord", URLSAFE, 22)
        + "."
        + rand("discord2", URLSAFE, 6)
        + "."
        + rand("discord3", URLSAFE, 27)
    )
    p.add(
        "Discord bot token",
        "detect-secrets DiscordBotTokenDetector",
        v,
        f"discord gateway identify rejected token {v}",
    )
    v = f"{rand('tg1', string.digits, 10)}:AA{rand('tg2', URLSAFE, 33)}"
    p.add(
        "Telegram bot token (in the API URL)",
        "gitleaks telegram-bot-api-token",
        v,
        f"requests.exceptions.HTTPError: 404 Client Error for url: https://api.telegram.org/bot{v}/sendMessage",
    )
    v = f"{rand('teams1', HEX, 8)}-1a2b-4c3d-8e9f-{rand('teams2', HEX, 12)}@{rand('teams3', HEX, 8)}-5a6b-4c7d-9e8f-{rand('teams4', HEX, 12)}/IncomingWebhook/{rand('teams5', HEX, 32)}/{rand('teams6', HEX, 8)}-0a1b-4c2d-8e3f-{rand('teams7', HEX, 12)}"
    p.add(
        "Microsoft Teams webhook URL",
        "gitleaks microsoft-teams-webhook",
        v,
        f"teams card post https://contoso.webhook.office.com/webhookb2/{v} failed",
    )
    return p


def _code_hosting() -> list[Planted]:
    """Code hosting and registries."""
    p = _Entries()
    v = "ghp_" + random_token("ghp", 36)
    p.add(
        "GitHub personal access token",
        "gitleaks github-pat; detect-secrets GitHubTokenDetector",
        v,
        f"github API 401 Bad credentials for token {v}",
    )
    v = "github_pat_" + random_token("ghpat", 22) + "_" + random_token("ghpat2", 59)
    p.add(
        "GitHub fine-grained token",
        "gitleaks github-fine-grained-pat",
        v,
        f"release upload denied: GITHUB_TOKEN={v}",
    )
    v = "ghs_" + random_token("ghs", 36)
    p.add(
        "GitHub app installation token (git URL)",
        "gitleaks github-app-token",
        v,
        f"git push https://x-access-token:{v}@github.com/acme/shop.git rejected",
    )
    v = "gho_" + random_token("gho", 36)
    p.add(
        "GitHub OAuth token", "gitleaks github-oauth", v, f"oauth session for octocat expired: {v}"
    )
    v = "glpat-" + rand("glpat", URLSAFE, 20)
    p.add(
        "GitLab personal access token",
        "gitleaks gitlab-pat; detect-secrets GitLabTokenDetector",
        v,
        f"gitlab pipeline trigger 401 with PRIVATE-TOKEN {v}",
    )
    v = "npm_" + rand("npm", ALNUM, 36)
    p.add(
        "npm access token",
        "gitleaks npm-access-token",
        v,
        f"npm ERR! 403 Forbidden - //registry.npmjs.org/:_authToken={v}",
    )
    v = "pypi-AgEIcHlwaS5vcmc" + rand("pypi", URLSAFE, 80)
    p.add(
        "PyPI upload token",
        "gitleaks pypi-upload-token; detect-secrets PypiTokenDetector",
        v,
        f"twine upload 403 Invalid or non-existent authentication, password {v}",
    )
    v = "dckr_pat_" + rand("docker", URLSAFE, 27)
    p.add("Docker Hub access token", "Docker docs", v, f"docker login -u deploy -p {v} failed")
    return p


def _saas() -> list[Planted]:
    """SaaS."""
    p = _Entries()
    v = "shpat_" + rand("shopify", HEX, 32)
    p.add(
        "Shopify access token",
        "gitleaks shopify-access-token",
        v,
        f"shopify admin graphql throttled for {v}",
    )
    v = "lin_api_" + rand("linear", ALNUM, 40)
    p.add("Linear API key", "gitleaks linear-api-key", v, f"issue sync to linear failed: {v}")
    v = "ntn_" + rand("notion", string.digits, 11) + rand("notion2", ALNUM, 35)
    p.add(
        "Notion integration token", "gitleaks notion-api-token", v, f"notion page export 401 ({v})"
    )
    v = "ATATT3" + rand("atlassian", URLSAFE, 186)
    p.add(
        "Atlassian API token",
        "gitleaks atlassian-api-token",
        v,
        f"jira ticket create failed token={v}",
    )
    v = "glsa_" + rand("grafana", ALNUM, 32) + "_" + rand("grafana2", HEX, 8)
    p.add(
        "Grafana service account token",
        "gitleaks grafana-service-account-token",
        v,
        f"dashboard provisioning 401 for {v}",
    )
    v = "NRAK-" + rand("newrelic", string.ascii_uppercase + string.digits, 27)
    p.add(
        "New Relic user API key",
        "gitleaks new-relic-user-api-key",
        v,
        f"newrelic nerdgraph query failed with {v}",
    )
    v = rand("datadog", HEX, 32)
    p.add("Datadog API key", "context (key/value)", v, f"dogstatsd flush failed DD_API_KEY={v}")
    v = rand("sentry", HEX, 32)
    p.add(
        "Sentry DSN key",
        "context (URL user)",
        v,
        f"sentry transport error for dsn https://{v}@o450123.ingest.sentry.io/5512345",
    )
    v = "PMAK-" + rand("postman", HEX, 24) + "-" + rand("postman2", HEX, 34)
    p.add("Postman API key", "gitleaks postman-api-token", v, f"collection sync failed: {v}")
    v = "AGE-SECRET-KEY-1" + rand("age", "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)
    p.add("age secret key", "gitleaks age-secret-key", v, f"sops decrypt: bad identity {v}")
    return p


def _llm_providers() -> list[Planted]:
    """LLM providers."""
    p = _Entries()
    v = "sk-proj-" + random_token("openai", 74) + "T3BlbkFJ" + random_token("openai2", 74)
    p.add(
        "OpenAI project key",
        "gitleaks openai-api-key; detect-secrets OpenAIDetector",
        v,
        f"openai.AuthenticationError: Error code: 401 - Incorrect API key provided: {v}",
    )
    v = "sk-ant-api03-" + rand("anthropic", URLSAFE, 93) + "AA"
    p.add(
        "Anthropic API key",
        "gitleaks anthropic-api-key",
        v,
        f"anthropic.AuthenticationError: invalid x-api-key {v}",
    )
    v = "hf_" + rand("hf", string.ascii_letters, 34)
    p.add(
        "Hugging Face token",
        "gitleaks huggingface-access-token",
        v,
        f"model download 401 from the hub with {v}",
    )
    v = "gsk_" + random_token("groq", 52)
    p.add("Groq API key", "Groq docs", v, f"groq completion rejected key {v}")
    return p


def _context_forms() -> list[Planted]:
    """Generic forms (context rules)."""
    p = _Entries()
    v = _jwt("jwt")
    p.add(
        "JSON Web Token",
        "gitleaks jwt; detect-secrets JwtTokenDetector",
        v,
        f"jwt verification failed: signature expired for {v}",
    )
    v = random_token("bearer", 40)
    p.add(
        "Bearer token (Authorization header)",
        "context (Authorization)",
        v,
        f"upstream inventory service 401, request headers: Authorization: Bearer {v}",
    )
    creds = f"svc-reports:{random_token('basic', 18)}"
    v = base64.b64encode(creds.encode()).decode()
    p.add(
        "Basic auth header",
        "context (Authorization)",
        v,
        f"proxy auth failed: Proxy-Authorization: Basic {v}",
        v,
        creds.split(":")[1],
    )
    session = (
        _jwt("flask-session").split(".")[1]
        + "."
        + rand("flask2", URLSAFE, 6)
        + "."
        + rand("flask3", URLSAFE, 27)
    )
    csrf = random_token("csrf", 32)
    p.add(
        "Session and CSRF cookies",
        "context (Cookie)",
        session,
        f"CSRF check failed, Cookie: session={session}; csrftoken={csrf}; theme=dark",
        session,
        csrf,
    )
    v = rand("django-session", LOWER_ALNUM, 32)
    p.add(
        "Django session cookie (Set-Cookie)",
        "context (Set-Cookie)",
        v,
        f"login response Set-Cookie: sessionid={v}; expires=Tue, 01 Dec 2026 10:00:00 GMT; HttpOnly; Path=/",
    )
    v = "Tr0ub4dor&3" + rand("pg", ALNUM, 6)
    p.add(
        "PostgreSQL URL password",
        "context (URL credentials)",
        v,
        f"psycopg.OperationalError: connection to postgresql://app:{v}@db.internal:5432/shop failed",
    )
    v = "p@ss:" + random_token("pg-at", 10)
    p.add(
        "URL password with an unencoded @",
        "context (URL credentials)",
        v,
        f"sqlalchemy could not connect to mysql://report:{v}@mysql.internal/reports",
    )
    v = random_token("redis", 24)
    p.add(
        "Redis URL password",
        "context (URL credentials)",
        v,
        f"redis.exceptions.AuthenticationError on redis://default:{v}@cache.internal:6379/0",
    )
    v = random_token("mongo", 20)
    p.add(
        "MongoDB SRV URL password",
        "context (URL credentials)",
        v,
        f"pymongo ServerSelectionTimeoutError mongodb+srv://orders:{v}@cluster0.x1y2z.mongodb.net/shop",
    )
    v = "hunter2-" + rand("pw", string.ascii_lowercase, 6)
    p.add(
        "password= pair",
        "context (key/value)",
        v,
        f"ldap bind failed user=cn=svc password={v} code=49",
    )
    v = "Winter2026!" + rand("json-pw", ALNUM, 4)
    p.add(
        "password in a JSON body",
        "context (JSON key/value)",
        v,
        'validation failed for request body {"email_verified": false, "username": "sam", '
        f'"password": "{v}", "plan": "pro"}}',
    )
    v = random_token("yaml", 32)
    p.add(
        "api_key in YAML",
        "context (YAML key/value)",
        v,
        f"config reload rejected line 12 `  api_key: {v}`",
    )
    v = random_token("query", 30)
    p.add(
        "access_token in a query string",
        "context (query string)",
        v,
        f"oauth callback GET /auth/callback?state=xyz&access_token={v}&expires_in=3600 400",
    )
    v = random_token("xapikey", 32)
    p.add(
        "X-Api-Key header in a dict",
        "context (header key/value)",
        v,
        f"geo lookup 403 headers={{'Accept': 'application/json', 'X-Api-Key': '{v}'}}",
    )
    v = "sk_live_" + random_token("json-escaped", 40)
    written = json.dumps(json.dumps({"stripe": {"api_key": v}}))[1:-1]
    p.add(
        "secret in a JSON-escaped string",
        "context (JSON escapes)",
        v,
        f'webhook replay payload "{written}" rejected',
        v,
    )
    v = "sk_live_" + random_token("unicode-escaped", 40)
    written = "\\u0073\\u006b" + v[2:]
    p.add(
        "secret split by \\u escapes",
        "context (JSON escapes)",
        v,
        f'client sent {{"key": "{written}"}} to the billing proxy',
        v,
        v[2:],
    )
    v = random_token("urlenc", 32)
    written = urllib.parse.quote(f"https://app.example.org/cb?token={v}", safe="")
    p.add(
        "token inside a URL-encoded redirect",
        "context (URL encoding)",
        v,
        f"open redirect blocked: redirect_uri={written}",
        v,
    )
    v = "sk_live_" + random_token("b64-inner", 40)
    blob = base64.b64encode(json.dumps({"api_key": v, "env": "prod"}).encode()).decode()
    p.add(
        "secret inside a base64 blob",
        "context (base64)",
        v,
        f"debug context header X-Debug-Context: {blob} dropped",
        v,
        blob,
    )
    v = random_token("bare", 40)
    p.add(
        "bare high-entropy value",
        "context (random token)",
        v,
        f"retrying signed upload with {v} after clock skew",
    )
    return p


def _multiline() -> list[Planted]:
    """Multi-line: tracebacks carrying keys and local variables."""
    p = _Entries()
    block, first = _pem("rsa", "RSA PRIVATE KEY")
    indented = "\n".join("  " + line for line in block.splitlines())
    p.append(
        Planted(
            "RSA private key in an exception message",
            "gitleaks private-key",
            first,
            "Traceback (most recent call last):\n"
            '  File "/app/signing.py", line 41, in load_signing_key\n'
            "    key = serialization.load_pem_private_key(data, password=None)\n"
            "ValueError: Could not deserialize key data:\n" + indented,
            (first,),
            multiline=True,
        )
    )
    block, first = _pem("openssh", "OPENSSH PRIVATE KEY", lines=4)
    cut = "\n".join("  " + line for line in block.splitlines()[:-1])  # the END line was cut
    p.append(
        Planted(
            "OpenSSH private key, cut short",
            "gitleaks private-key",
            first,
            "Traceback (most recent call last):\n"
            '  File "/app/deploy.py", line 77, in open_tunnel\n'
            "    client.connect(host, pkey=load_key(text))\n"
            "paramiko.ssh_exception.SSHException: not a valid key file:\n" + cut,
            (first,),
            multiline=True,
        )
    )
    password, token = "Summer2026!" + rand("locals-pw", ALNUM, 5), random_token("locals-tok", 36)
    p.append(
        Planted(
            "credentials in a traceback's local variables",
            "context (key/value in a locals dump)",
            password,
            "Traceback (most recent call last):\n"
            '  File "/app/payments.py", line 52, in charge\n'
            "    response = client.post(url, json=body, headers=headers)\n"
            "    credentials = {'username': 'svc-pay', 'password': '" + password + "'}\n"
            "    headers = {'Authorization': 'Token " + token + "', 'Accept': '*/*'}\n"
            "httpx.HTTPStatusError: Client error '401 Unauthorized' for url 'https://pay.example/v1'",
            (password, token),
            multiline=True,
        )
    )
    return p


CORPUS: list[Planted] = [
    *_clouds(),
    *_payments(),
    *_messaging(),
    *_code_hosting(),
    *_saas(),
    *_llm_providers(),
    *_context_forms(),
    *_multiline(),
]
