"""Whether a chart can render differently from the same inputs: its templates call a
function whose result changes on every render (random strings, UUIDs, generated keys and
certificates, the current time). Only such charts need the second render that tells a
made-up value from a change (`TargetRenderer.steady`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Sprig's functions whose value differs between two renders of the same inputs
# (https://masterminds.github.io/sprig/: strings, uuid, crypto, date).
VOLATILE = re.compile(
    rb"\b(?:rand[A-Z][A-Za-z]*|randInt|randNumeric|uuidv4|genPrivateKey|genCA|genCAWithKey"
    rb"|genSelfSignedCert|genSelfSignedCertWithKey|genSignedCert|genSignedCertWithKey"
    rb"|encryptAES|bcrypt|htpasswd|now|unixEpoch|dateInZone|date)\b"
)


def chart_may_vary(chart: Path) -> bool:
    """Whether the chart at `chart` (with its subcharts) may render differently each time;
    True when unsure (a packaged subchart, an unreadable file). Links are never followed:
    the files are the pull request's."""
    try:
        for folder, _, names in os.walk(chart, onerror=_raise):
            inside = Path(folder).relative_to(chart).parts
            for name in names:
                path = Path(folder, name)
                if path.is_symlink():
                    continue
                if path.suffix in (".tgz", ".tar", ".gz"):
                    return True  # a packaged subchart: not read here, so it may
                if "templates" in inside and VOLATILE.search(path.read_bytes()):
                    return True
    except OSError:
        return True
    return False


def _raise(error: OSError) -> None:
    raise error
