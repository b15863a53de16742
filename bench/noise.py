#!/usr/bin/env python3
"""Noise on real repositories: the corpus (tests/fixtures/corpus/corpus.yaml), reviewed as a new
user would, with the bot's default policies and no `.gitops-bot.yaml`.

Per repository it prints:
- targets: expected targets (corpus.yaml, `rendered: false` ones left out) whose path the
  bot found, and how many targets it found in all;
- harmless: blocking findings (new, severity error) on the harmless `image-bump` change
  (target 0), and summed over every harmless change;
- problems: precision of what each problem change reports as new (new errors and dangerous
  changes matching the change's `expect.new`, target 100 %) and recall (expected findings
  reported), and how many problem changes block.

A finding is "new" when the review marks it so; a review that does not know novelty (older
versions) counts every finding as new. Figures, not assertions: not a test.

    .venv/bin/python bench/noise.py [--repo NAME ...] [--changes image-bump,...] [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.gitrepo import GitSnapshot, all_paths, rev_parse  # noqa: E402
from bot.model import Finding, ReviewResult, Severity, State, TargetResult  # noqa: E402
from bot.pipeline.change import review_change  # noqa: E402
from bot.pipeline.review import ReviewOptions, load_config  # noqa: E402
from bot.repo.targets import expand_targets  # noqa: E402
from bot.tools import Tools  # noqa: E402
from tests.corpus_changes import BASE_BRANCH, apply_change, build_repo, load_corpus  # noqa: E402

CHECKS = {"schema": {"validate"}, "policy": {"policy"}, "dangerous": {"dangerous"}}


def _is_new(finding: Finding) -> bool:
    return bool(getattr(finding, "new", True))


def _reported(result: ReviewResult) -> list[tuple[TargetResult | None, Finding]]:
    """What a review reports as this change's problems: new errors and dangerous changes."""
    found: list[tuple[TargetResult | None, Finding]] = []
    for t in result.targets:
        found += [
            (t, f)
            for f in t.findings
            if _is_new(f) and (f.severity is Severity.ERROR or f.check == "dangerous")
        ]
    found += [
        (None, f)
        for f in result.findings
        if _is_new(f) and (f.severity is Severity.ERROR or f.check == "dangerous")
    ]
    return found


def _blocking(result: ReviewResult) -> int:
    return sum(1 for _, f in _reported(result) if f.severity is Severity.ERROR)


def _object_spec(spec: str) -> tuple[str, str | None, str]:
    """`Kind/ns/name`, `Kind/name` or `Kind name` -> (kind, namespace or None, name)."""
    if "/" in spec and " " not in spec:
        parts = spec.split("/")
        return parts[0], parts[1] if len(parts) == 3 else None, parts[-1]
    words = spec.split()
    return words[0], None, words[-1]


def _check(f: Finding) -> str:
    """The check a finding reports; the default policy that blocks dangerous changes counts
    as the `dangerous` check."""
    return "dangerous" if (f.rule or "").endswith("_dangerous") else f.check


def _matches(
    expect: Mapping[str, Any], target: TargetResult | None, f: Finding, release: str | None = None
) -> bool:
    if _check(f) not in CHECKS.get(str(expect.get("check")), {str(expect.get("check"))}):
        return False
    where = str(expect.get("target", ""))
    if target is not None and " " not in where and where:
        path, where = target.target.path.rstrip("/"), where.rstrip("/")
        if path != where and not path.startswith(where + "/"):
            return False  # a subfolder target of the expected app still counts
    kind, namespace, name = _object_spec(str(expect["object"]))
    if f.object is not None:
        # An object without a namespace lands where its app is deployed, which discovery
        # decides, not the finding: the expected namespace is not held against it.
        return (
            f.object.kind == kind
            and _same_name(f.object.name, name, release)
            and (namespace is None or f.object.namespace in (namespace, ""))
        )
    return f"{kind}/{name}" in f.message or f"{kind}/{namespace}/{name}" in f.message


def _same_name(found: str, expected: str, release: str | None) -> bool:
    """Equal names; for a chart, equal apart from the release-name prefix discovery chose
    (`charts-kube-prometheus-sta-prometheus` for `kube-prometheus-stack-prometheus`)."""
    if found == expected:
        return True
    if release and expected.startswith(release + "-"):
        return found.endswith("-" + expected[len(release) + 1 :])
    return False


def _targets(repo: Path, spec: Mapping[str, Any]) -> tuple[int, int, int]:
    """(expected paths found, expected, targets found)."""
    snap = GitSnapshot(repo, rev_parse(repo, BASE_BRANCH))
    try:
        config, _ = load_config(snap, snap)
        files = all_paths([snap])
        found = expand_targets(config, files, snap.read)
    finally:
        snap.close()
    paths = {t.path.rstrip("/") for t in found}
    expected = {str(t["path"]).rstrip("/") for t in spec["targets"] if t.get("rendered", True)}
    return len(expected & paths), len(expected), len(found)


def _review(repo: Path, branch: str, options: ReviewOptions) -> ReviewResult:
    return review_change(repo, BASE_BRANCH, branch, options)


def run_repo(
    name: str, spec: Mapping[str, Any], tools: Tools, wanted: Iterable[str] | None, verbose: bool
) -> dict[str, Any]:
    """Build one corpus repository, apply its changes, review each; figures for the table."""
    with tempfile.TemporaryDirectory(prefix="noise-") as tmp:
        repo = build_repo(name, Path(tmp) / name)
        changes = [c for c in spec["changes"] if wanted is None or c in wanted]
        options = ReviewOptions(
            tools=tools, cache_dir=Path(tmp) / "cache", parallelism=2, enforce_approvals=True
        )
        found, expected, total = _targets(repo, spec)
        row: dict[str, Any] = {
            "repo": name,
            "targets": (found, expected, total),
            "image_bump": None,
            "harmless": 0,
            "harmless_changes": 0,
            "reported": 0,
            "matched": 0,
            "expected": 0,
            "hit": 0,
            "blocked": 0,
            "problems": 0,
            "seconds": 0.0,
        }
        started = time.monotonic()
        releases = {str(t["path"]): t.get("release") for t in spec["targets"]}
        for change in changes:
            entry = spec["changes"][change]
            branch = apply_change(repo, name, change)
            result = _review(repo, branch, options)
            reported = _reported(result)
            if entry["kind"] == "harmless":
                blocking = _blocking(result)
                row["harmless"] += blocking
                row["harmless_changes"] += 1
                if change == "image-bump":
                    row["image_bump"] = blocking
                if verbose and blocking:
                    for t, f in reported:
                        if f.severity is Severity.ERROR:
                            print(
                                f"  {name}/{change}: {t.target.id if t else '-'} {_check(f)} "
                                f"{f.object or ''} {f.message[:140]}"
                            )
                continue
            expects = entry["expect"]["new"]

            def hit(e: Mapping[str, Any], t: TargetResult | None, f: Finding) -> bool:
                return _matches(e, t, f, releases.get(str(e.get("target"))))

            row["problems"] += 1
            row["blocked"] += int(result.state >= State.FAILURE)
            row["reported"] += len(reported)
            good = [(t, f) for t, f in reported if any(hit(e, t, f) for e in expects)]
            row["matched"] += len(good)
            row["expected"] += len(expects)
            row["hit"] += sum(1 for e in expects if any(hit(e, t, f) for t, f in reported))
            if verbose:
                for t, f in reported:
                    if (t, f) not in good:
                        print(
                            f"  {name}/{change}: unexpected {t.target.id if t else '-'} "
                            f"{_check(f)} {f.object or ''} {f.message[:140]}"
                        )
                for e in expects:
                    if not any(hit(e, t, f) for t, f in reported):
                        print(f"  {name}/{change}: missed {e}")
        row["seconds"] = time.monotonic() - started
        return row


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", help="corpus repository (default: all)")
    parser.add_argument("--changes", help="comma-separated change names (default: all)")
    parser.add_argument("--verbose", action="store_true", help="list unexpected findings")
    args = parser.parse_args()
    corpus = load_corpus()
    tools = Tools.discover()
    wanted = args.changes.split(",") if args.changes else None
    print(
        f"{'repository':30} {'targets':>13} {'image-bump':>10} {'harmless':>9} "
        f"{'precision':>9} {'recall':>7} {'blocked':>8} {'seconds':>8}"
    )
    for name in args.repo or list(corpus):
        row = run_repo(name, corpus[name], tools, wanted, args.verbose)
        found, expected, total = row["targets"]
        bump = "-" if row["image_bump"] is None else str(row["image_bump"])
        harmless = f"{row['harmless']}/{row['harmless_changes']}"
        blocked = f"{row['blocked']}/{row['problems']}"
        print(
            f"{name:30} {f'{found}/{expected} ({total})':>13} {bump:>10} {harmless:>9} "
            f"{_pct(row['matched'], row['reported']):>9} {_pct(row['hit'], row['expected']):>7} "
            f"{blocked:>8} {row['seconds']:>8.1f}"
        )
    print(
        "targets: expected paths found/expected (targets found); image-bump: blocking "
        "findings on it; harmless: blocking findings/harmless changes; precision: reported "
        "new problems that were expected; recall: expected problems reported; blocked: "
        "problem changes that fail the review (approvals enforced, none given)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
