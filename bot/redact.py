"""The one masking pass for text that leaves the process: comments, statuses, logs, errors.

Two kinds of masking, both in `redact`:
- patterns: credentials recognisable by their shape (URL passwords, forge tokens, auth
  headers, JWTs, private keys);
- known values: every credential the process holds (registered once with `remember` when
  the configuration is read) and any values a caller passes (`known=`, e.g. a render's
  Secret values), in their plain, base64, base64url, hex and URL-encoded spellings, so an
  encoded copy is masked too (docs/security.md#secrets-in-outputs).
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus, urlsplit

MASK = "***"

# Order matters: credentials in URLs and headers first, then bare tokens anywhere.
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # https://user:password@host — keep the user (often a fixed name like x-access-token).
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s:/@]*):([^\s/@]+)@"), rf"\1\2:{MASK}@"),
    # https://<long token>@host — a long userinfo without a password is a token, not a user.
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[A-Za-z0-9_\-.]{20,}@"), rf"\1{MASK}@"),
    # Authorization: Bearer|Basic|token <value>; [ \t] so a match never runs onto the next line.
    (
        re.compile(
            r"(?i)\b(authorization[ \t]*[:=][ \t]*[\"']?)(?:(bearer|basic|token|bot)[ \t]+)?"
            r"([^\s\"',;]+)"
        ),
        lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer)[ \t]+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {MASK}"),
    (
        re.compile(
            r"(?i)\b((?:private|job|deploy)-token|x-gitlab-token)([ \t]*[:=][ \t]*[\"']?)"
            r"[^\s\"',;]+"
        ),
        rf"\1\2{MASK}",
    ),
    (
        re.compile(
            r"(?i)([?&](?:access_token|private_token|token|password|client_secret|api_key)=)"
            r"[^&\s#\"']+"
        ),
        rf"\1{MASK}",
    ),
    # GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) and GitLab (glpat-, gldt-, ...) tokens.
    (re.compile(r"\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{8,}"), rf"\1{MASK}"),
    (
        re.compile(r"\b(glpat-|gldt-|glrt-|glptt-|glcbt-|gloas-|glsoat-)[A-Za-z0-9_\-]{8,}"),
        rf"\1{MASK}",
    ),
    # JWTs: GitHub App tokens, Kubernetes service-account tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), f"eyJ{MASK}"),
    (
        re.compile(
            r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
        ),
        rf"-----BEGIN \1PRIVATE KEY ({MASK})-----",
    ),
)


# One combined search first: most text holds no credential, and one scan is ~10x cheaper
# than running every substitution (reports redact thousands of strings).
_ANY = re.compile(
    "|".join(f"(?:{p.pattern.removeprefix('(?i)')})" for p, _ in _RULES), re.IGNORECASE | re.DOTALL
)


MIN_KNOWN = 6  # shorter values are not masked (they would mask ordinary words)
MIN_ENCODED = 8  # encoded spellings only for values at least this long


def _base64_cores(raw: bytes) -> set[str]:
    """The part of base64(x + raw + y) that depends only on `raw`, for each alignment of
    `raw` in the encoded stream (3 of them), in both alphabets."""
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        # characters whose 6 bits come only from `raw`: after the prefix, before the tail
        core = encoded[(8 * offset + 5) // 6 : (8 * (offset + len(raw))) // 6]
        if len(core) >= MIN_ENCODED:
            cores.add(core)
            cores.add(core.replace("+", "-").replace("/", "_"))
    return cores


def spellings(value: str) -> set[str]:
    """The ways `value` can appear in text: plain, base64, base64url, hex, URL-encoded."""
    if len(value) < MIN_KNOWN:
        return set()
    forms = {value}
    if len(value) >= MIN_ENCODED:
        raw = value.encode()
        forms |= _base64_cores(raw)
        forms |= {raw.hex(), raw.hex().upper(), quote(value, safe=""), quote_plus(value)}
    return forms


def _pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    forms = {f for v in values for f in spellings(v)}
    if not forms:
        return None
    # longest first, so a value is masked whole before any shorter form inside it
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


class _Known:
    """The process's credentials, registered once when the configuration is read."""

    def __init__(self) -> None:
        self.values: set[str] = set()
        self.pattern: re.Pattern[str] | None = None
        self.lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self.lock:
            new = {v for v in values if v and len(v) >= MIN_KNOWN} - self.values
            if new:
                self.values |= new
                self.pattern = _pattern(self.values)


_KNOWN = _Known()


def remember(*values: str) -> None:
    """Register credentials of this process: `redact` masks them everywhere from now on."""
    _KNOWN.add(values)
    for value in values:  # a URL's password is a credential of its own
        if value and "://" in value:
            password = urlsplit(value).password
            if password:
                _KNOWN.add([password])


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Mask credentials in `text`: shaped ones (URL passwords, forge tokens, auth headers,
    JWTs, keys), every value passed to `remember`, and the values in `known` — each also in
    its base64, base64url, hex and URL-encoded spellings.

    Idempotent: `redact(redact(t)) == redact(t)`.
    """
    extra = _pattern(known) if known else None
    for pattern in (extra, _KNOWN.pattern):
        if pattern is not None:
            text = pattern.sub(MASK, text)
    if not _ANY.search(text):
        return text
    for rule, replacement in _RULES:
        text = rule.sub(replacement, text)
    return text


def mask_url(url: str) -> str:
    """`scheme://user:***@host/...`: a URL safe to print."""
    return _URL_PASSWORD.sub(rf"\1{MASK}@", url)


_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")
