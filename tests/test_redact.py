"""The masking pass: tokens in URLs, forge tokens, auth headers, keys; idempotent."""

from __future__ import annotations

import pytest

from bot.redact import redact

CASES = [
    (
        "fatal: https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
        "fatal: https://x-access-token:***@github.com/o/r",
        "ghs_16C7e42F",
    ),
    (
        "git clone https://oauth2:glpat-AbCdEf1234567890xyz@gitlab.example.com/g/r.git",
        "git clone https://oauth2:***@gitlab.example.com/g/r.git",
        "glpat-AbCd",
    ),
    (
        "remote: https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r",
        "remote: https://***@github.com/o/r",
        "ghp_abcdef",
    ),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 leaked", "token ghp_*** leaked", "abcdefgh"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_***", "11ABCDEFG"),
    ("Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization: Bearer ***", "eyJhbGciOi"),
    ("authorization: token 0123456789abcdef", "authorization: token ***", "0123456789"),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***", "dXNlcjpwYXNz"),
    ('curl -H "Bearer abc.def-ghi"', 'curl -H "Bearer ***"', "abc.def"),
    ("PRIVATE-TOKEN: s3cr3tvalue", "PRIVATE-TOKEN: ***", "s3cr3tvalue"),
    ("GET /api?private_token=s3cr3t&page=2", "GET /api?private_token=***&page=2", "s3cr3t"),
    ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzYSJ9.c2lnbmF0dXJl", "jwt eyJ***", "c2lnbmF0dXJl"),
    (
        "+key: -----BEGIN RSA PRIVATE KEY-----\n+MIIEpAIBAAKCAQEA\n+-----END RSA PRIVATE KEY-----\n+x",
        "+key: -----BEGIN RSA PRIVATE KEY (***)-----\n+x",
        "MIIEpAIBAAKCAQEA",
    ),
]


@pytest.mark.parametrize(("raw", "expected", "secret"), CASES)
def test_redact_masks_and_is_idempotent(raw: str, expected: str, secret: str) -> None:
    out = redact(raw)
    assert out == expected
    assert secret not in out
    assert redact(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "ssh://git@github.com/o/r.git",
        "scheme: Bearer\n  next: line",
        "image: shop/web:1.0",
        "see https://github.com/o/r/pull/1",
        "user@example.com approved",
    ],
)
def test_redact_leaves_ordinary_text_alone(text: str) -> None:
    assert redact(text) == text
