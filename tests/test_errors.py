"""The exception hierarchy drawn in bot/errors.py is the one in the code."""

from __future__ import annotations

import importlib
import re

import bot.errors
from bot.errors import GitopsBotError

MODULES = (
    "bot.errors",
    "bot.policy.policyset",
    "bot.render.sandbox",
    "bot.live.base",
    "bot.forges.base",
)


def _classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, GitopsBotError)
                and value.__module__ == name
            ):
                found[value.__name__] = value
    return found


def _drawn() -> dict[str, str]:
    """Each class in the drawing -> the class it is drawn under."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = [(-1, "GitopsBotError")]
    for line in (bot.errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:\|\s*)*)\+-- ([A-Za-z, ]+?)(?:\s{2,}|$)", line)
        if not match:
            continue
        depth = len(match.group(1))
        while stack[-1][0] >= depth:
            stack.pop()
        names = [n.strip() for n in match.group(2).split(",")]
        for name in names:
            parents[name] = stack[-1][1]
        stack.append((depth, names[0]))
    return parents


def test_every_error_class_is_drawn_under_its_real_parent() -> None:
    classes, drawn = _classes(), _drawn()
    assert set(classes) - {"GitopsBotError"} == set(drawn)
    for name, parent in drawn.items():
        assert classes[name].__bases__[0] is classes[parent], (name, parent)
