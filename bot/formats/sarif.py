"""PURE: the review as a SARIF 2.1.0 log, the format GitHub code scanning ingests.

Each rule carries the short and full descriptions and the help GitHub requires; each result
one physical location (repository-relative, `%SRCROOT%`) and a partial fingerprint, so a
finding keeps its alert across runs. Spec: https://docs.oasis-open.org/sarif/sarif/v2.1.0/
"""

from __future__ import annotations

import re
from typing import Any

from bot.formats import INFORMATION_URI, TOOL, Located, describe_rule, located
from bot.model import ReviewResult, Severity

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule(rule: str, level: str) -> dict[str, Any]:
    text = describe_rule(rule)
    return {
        "id": rule,
        "name": _name(rule),
        "shortDescription": {"text": text},
        "fullDescription": {"text": f"{text} (gitops-bot {rule.split('/')[0]} check)."},
        "help": {
            "text": f"{text}. The message of each result says what to change.",
            "markdown": f"**{text}.** The message of each result says what to change.",
        },
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["kubernetes", "gitops"]},
    }


# `name` is for people and must differ from the opaque `id` (SARIF 3.49.7).
NAMES = {
    "render": "RendersCleanly",
    "sandbox": "StaysInTheSandbox",
    "validate": "ValidatesAgainstTheSchema",
    "config": "ValidRepositoryConfiguration",
    "diff": "ComparesWithTheBase",
    "live": "ComparesWithWhatIsLive",
}


def _name(rule: str) -> str:
    """`PolicyMainDeny` for `policy/main.deny`, a phrase for the other checks."""
    if rule in NAMES:
        return NAMES[rule]
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[/._-]+", rule) if part)
    return name if name.lower() != rule.lower() else f"{name}Check"


def _result(item: Located, index: int) -> dict[str, Any]:
    region = {"region": {"startLine": item.line}} if item.line else {}
    props = {k: v for k, v in (("target", item.target), ("object", item.object)) if v}
    where = f" [{item.target}]" if item.target else ""
    return {
        "ruleId": item.rule,
        "ruleIndex": index,
        "level": LEVEL[item.severity],
        "message": {"text": f"{item.message}{where}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": item.path, "uriBaseId": "%SRCROOT%"},
                    **region,
                }
            }
        ],
        "partialFingerprints": {"gitopsBot/v1": item.fingerprint},
        **({"properties": props} if props else {}),
    }


def render_sarif(result: ReviewResult, version: str) -> dict[str, Any]:
    """The SARIF log of one review (`version`: the bot's version)."""
    items = list(located(result))
    rules: dict[str, int] = {}
    levels: dict[str, str] = {}
    for item in items:
        rules.setdefault(item.rule, len(rules))
        level = LEVEL[item.severity]
        if levels.get(item.rule) != "error":
            levels[item.rule] = "error" if level == "error" else levels.get(item.rule, level)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "version": version,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(r, levels[r]) for r in rules],
                    }
                },
                "automationDetails": {"id": f"{TOOL}/"},
                "originalUriBaseIds": {
                    "%SRCROOT%": {
                        "description": {"text": "The root of the repository under review."}
                    }
                },
                "results": [_result(item, rules[item.rule]) for item in items],
            }
        ],
    }
