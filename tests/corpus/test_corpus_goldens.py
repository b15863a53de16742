"""Golden comments for every scripted change of every corpus repository, reviewed as a new
user would (the bot's default policies, no `.gitops-bot.yaml`, approvals enforced and none
given, as the service posts them), and the headline measure of issue 10: a harmless change
gets no new blocking finding.

Regenerate after an intended change with `GOLDEN_UPDATE=1 ./scripts/test tests/corpus`
(discovery changes move targets and app names: review the diff of the goldens).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.model import ReviewResult, Severity
from bot.pipeline.change import review_change
from bot.pipeline.review import ReviewOptions
from bot.report import GITHUB_COMMENT_LIMIT, render_markdown
from bot.tools import Tools
from tests.corpus_changes import BASE_BRANCH, build_with_changes, load_corpus

pytestmark = pytest.mark.e2e  # real helm and kubectl over seven repositories: minutes
REPOS = load_corpus()
GOLDEN = Path(__file__).parents[1] / "fixtures" / "corpus-golden"
CASES = [(name, change) for name in REPOS for change in REPOS[name]["changes"]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A repository built once with all its changes as branches, on first use."""
    root = tmp_path_factory.mktemp("corpus")
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            done[name] = root / name
            build_with_changes(name, done[name])
        return done[name]

    return get


def blocking(result: ReviewResult) -> list[str]:
    """New error findings: what blocks a change under the default `findings.block: new`."""
    findings = [*result.findings, *(f for t in result.targets for f in t.findings)]
    return [f.message for f in findings if f.new and f.severity is Severity.ERROR]


@pytest.mark.parametrize(("name", "change"), CASES, ids=[f"{n}/{c}" for n, c in CASES])
def test_corpus_change_comment(
    name: str,
    change: str,
    built: Callable[[str], Path],
    tools: Tools,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    repo = built(name)
    cache = tmp_path_factory.getbasetemp() / "corpus-cache" / name
    options = ReviewOptions(tools=tools, cache_dir=cache, parallelism=2, enforce_approvals=True)
    result = review_change(repo, BASE_BRANCH, f"change/{change}", options)
    if REPOS[name]["changes"][change]["kind"] == "harmless":
        assert blocking(result) == [], f"{name}/{change}: a harmless change is blocked"
    comment = render_markdown(result, max_chars=GITHUB_COMMENT_LIMIT)
    path = GOLDEN / name / f"{change}.md"
    if os.environ.get("GOLDEN_UPDATE") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(comment)
    assert path.exists(), f"missing {path}: run GOLDEN_UPDATE=1 ./scripts/test {__file__}"
    assert comment == path.read_text(), f"{name}/{change} changed; regenerate if intended"
