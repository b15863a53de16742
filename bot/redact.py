"""The one masking pass for text that leaves the process: comments, statuses, logs, errors."""
from __future__ import annotations

import re
from collections.abc import Callable

MASK = "***"

# Order matters: credentials in URLs and headers first, then bare tokens anywhere.
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # https://user:password@host — keep the user (often a fixed name like x-access-token).
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s:/@]*):([^\s/@]+)@"), rf"\1\2:{MASK}@"),
    # https://<long token>@host — a long userinfo without a password is a token, not a user.
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[A-Za-z0-9_\-.]{20,}@"), rf"\1{MASK}@"),
    # Authorization: Bearer|Basic|token <value>; [ \t] so a match never runs onto the next line.
    (re.compile(r"(?i)\b(authorization[ \t]*[:=][ \t]*[\"']?)(?:(bearer|basic|token|bot)[ \t]+)?"
                r"([^\s\"',;]+)"),
     lambda m: f"{m[1]}{m[2] + ' ' if m[2] else ''}{MASK}"),
    (re.compile(r"(?i)\b(bearer)[ \t]+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {MASK}"),
    (re.compile(r"(?i)\b((?:private|job|deploy)-token|x-gitlab-token)([ \t]*[:=][ \t]*[\"']?)"
                r"[^\s\"',;]+"),
     rf"\1\2{MASK}"),
    (re.compile(r"(?i)([?&](?:access_token|private_token|token|password|client_secret|api_key)=)"
                r"[^&\s#\"']+"),
     rf"\1{MASK}"),
    # GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) and GitLab (glpat-, gldt-, ...) tokens.
    (re.compile(r"\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]{8,}"), rf"\1{MASK}"),
    (re.compile(r"\b(glpat-|gldt-|glrt-|glptt-|glcbt-|gloas-|glsoat-)[A-Za-z0-9_\-]{8,}"),
     rf"\1{MASK}"),
    # JWTs: GitHub App tokens, Kubernetes service-account tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), f"eyJ{MASK}"),
    (re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
                re.DOTALL),
     rf"-----BEGIN \1PRIVATE KEY ({MASK})-----"),
)


# One combined search first: most text holds no credential, and one scan is ~10x cheaper
# than running every substitution (reports redact thousands of strings).
_ANY = re.compile("|".join(f"(?:{p.pattern.removeprefix('(?i)')})" for p, _ in _RULES),
                  re.IGNORECASE | re.DOTALL)


def redact(text: str) -> str:
    """Mask credentials in `text` (URL passwords, forge tokens, auth headers, JWTs, keys).

    Idempotent: `redact(redact(t)) == redact(t)`.
    """
    if not _ANY.search(text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
