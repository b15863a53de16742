"""Benchmark: embedded schema validation speed, cold (compiling) and cached, in objects/s."""

from __future__ import annotations

import copy
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.model import Manifest
from bot.validate import EmbeddedValidator, schemas
from tests.validate.samples import CONFIGMAP, CRD, DEPLOYMENT, SERVICE, WIDGET


def objects(n: int) -> list[Manifest]:
    """`n` objects cycling Deployment, Service, ConfigMap and a CRD-defined Widget."""
    kinds: list[dict[str, Any]] = [DEPLOYMENT, SERVICE, CONFIGMAP, WIDGET]
    out = [Manifest(CRD, "crd.yaml", 1)]
    for i in range(n - 1):
        body = copy.deepcopy(kinds[i % len(kinds)])
        body["metadata"]["name"] = f"obj-{i}"
        out.append(Manifest(body, "all.yaml", i + 2))
    return out


def rate(manifests: list[Manifest], repeat: int = 1) -> float:
    validator = EmbeddedValidator()
    started = time.perf_counter()
    for _ in range(repeat):
        assert validator.validate(manifests, "1.35") == []
    return len(manifests) * repeat / (time.perf_counter() - started)


def main() -> None:
    small, big = objects(200), objects(20_000)
    schemas.clear_cache()
    cold_small = rate(small)
    print(f"cold   (5 kinds compiled in the run), 200 objects: {cold_small:,.0f} objects/s")
    print(f"cached 20,000 objects:                           {rate(big, 3):,.0f} objects/s")
    bad = copy.deepcopy(DEPLOYMENT)
    bad["spec"]["replicas"] = "x"
    failing = [Manifest(bad, "bad.yaml", 1)] * 2_000
    EmbeddedValidator().validate(failing[:1], "1.35")
    started = time.perf_counter()
    EmbeddedValidator().validate(failing, "1.35")
    print(
        f"failing objects (every error listed):             "
        f"{len(failing) / (time.perf_counter() - started):,.0f} objects/s"
    )
    threads = [threading.Thread(target=rate, args=(big,)) for _ in range(4)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        f"4 threads x 20,000 cached (GIL-bound):            "
        f"{4 * len(big) / (time.perf_counter() - started):,.0f} objects/s"
    )
    print(f"compilations: {schemas.STATS.counts}")


if __name__ == "__main__":
    main()
