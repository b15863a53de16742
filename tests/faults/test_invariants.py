"""The fault suite's own checks can fail: a credential in any encoding is found."""

from __future__ import annotations

import pytest

from tests.e2e.loop import TOKEN
from tests.faults.harness import assert_no_secret, encodings
from tests.web.hookclient import SECRET


@pytest.mark.parametrize("secret", [TOKEN, SECRET])
def test_every_encoding_of_a_credential_is_caught(secret: str) -> None:
    for form in encodings(secret):
        with pytest.raises(AssertionError, match="a credential in"):
            assert_no_secret([("a log", f"prefix {form} suffix")])
    assert_no_secret([("a log", "nothing to see")])
