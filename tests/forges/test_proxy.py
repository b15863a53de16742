"""ForgeProxy (bot.forges.proxy): the base of Forge wrappers delegates every method of the
port by name, so a wrapper is a complete Forge without `__getattr__`."""

from __future__ import annotations

import inspect

from bot.forges.base import Forge
from bot.forges.proxy import ForgeProxy
from bot.pipeline.job import ApprovalsSeen
from bot.pipeline.serial import SerialComments


def port_methods() -> set[str]:
    return {
        name
        for name, value in vars(Forge).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


def test_every_forge_method_is_delegated() -> None:
    methods = port_methods()
    assert {"get_change", "set_status", "clone_token"} <= methods
    assert sorted(m for m in methods if m not in vars(ForgeProxy)) == []


def test_the_wrappers_have_no_attribute_fallback() -> None:
    for wrapper in (ForgeProxy, ApprovalsSeen, SerialComments):
        assert not any("__getattr__" in vars(k) for k in wrapper.__mro__), wrapper
