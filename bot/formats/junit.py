"""PURE: the review as JUnit XML (one test suite per target, one test case per check of
that target), the test report format GitLab, Jenkins, Tekton dashboards and others read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from bot.formats import TOOL, Located, located
from bot.model import ReviewResult, Severity

CHECK_CASES = ("render", "validate", "policy")


def render_junit(result: ReviewResult) -> str:
    """The JUnit XML document of one review.

    Each target gets `render`, `validate` and `policy` cases (failing when the target has
    an ERROR finding of that check) plus one for any other check that found something;
    change-level findings form the suite `change`. Warnings are listed in `system-out`.
    """
    found: dict[str, list[Located]] = defaultdict(list)
    for item in located(result):
        found[item.target or "change"].append(item)
    suites = ET.Element("testsuites", name=TOOL)
    names = [t.target.id for t in result.targets] + (["change"] if found.get("change") else [])
    totals = [0, 0]
    for name in names:
        items = found.get(name, [])
        checks = list(CHECK_CASES if name != "change" else ())
        checks += sorted({i.check for i in items} - set(checks))
        suite = ET.SubElement(suites, "testsuite", name=name)
        failures = 0
        for check in checks:
            case = ET.SubElement(suite, "testcase", name=check, classname=f"{TOOL}.{name}")
            errors = [i for i in items if i.check == check and i.severity is Severity.ERROR]
            others = [i for i in items if i.check == check and i.severity is not Severity.ERROR]
            if errors:
                failures += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    type=check,
                    message=f"{len(errors)} {check} error(s): {errors[0].message[:300]}",
                )
                failure.text = "\n".join(_line(i) for i in errors)
            if others:
                ET.SubElement(case, "system-out").text = "\n".join(_line(i) for i in others)
        suite.set("tests", str(len(checks)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        totals[0] += len(checks)
        totals[1] += failures
    suites.set("tests", str(totals[0]))
    suites.set("failures", str(totals[1]))
    suites.set("errors", "0")
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _line(item: Located) -> str:
    where = f"{item.path}:{item.line}" if item.line else item.path
    obj = f" ({item.object})" if item.object else ""
    return f"{item.severity.name.lower()} {item.rule} {where}{obj}: {item.message}"
