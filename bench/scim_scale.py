"""GET-by-userName latency as an organisation grows: 1,000 vs 1,000,000 users.

Builds one SQLite file per size (users bulk-inserted straight into the store's
tables, one transaction, so seeding takes seconds rather than a million POSTs),
serves it with `prompt-scim serve` (one worker, pinned to CPU 0), and sends
Entra's matching query `userName eq "..."` for random stored users (hits) and
unknown names (misses) from a client pinned to CPU 1. Prints p50/p99 per size and
the 1,000,000 / 1,000 ratio; results go to `bench/results/scim_scale.json`.

    .venv/bin/python bench/scim_scale.py --sizes 1000 1000000 --requests 4000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import aiohttp
import httpx

from scim_service.storage import Actor, Store
from scim_service.storage.tables import resources

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROMPT_EXT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"
BATCH = 20_000


def user_doc(k: int) -> dict[str, object]:
    name = f"user{k}@scale.example"
    return {
        "userName": name,
        "active": True,
        "displayName": f"User {k}",
        "name": {"givenName": "User", "familyName": str(k)},
        "emails": [{"type": "work", "value": name, "primary": True}],
        PROMPT_EXT: {"department": "Nursing", "section": "Ward 3"},
    }


def seed(path: Path, size: int) -> str:
    """Create the database with one organisation of `size` users; return a token."""
    store = Store.open(f"sqlite:///{path}")
    store.migrate()
    actor = Actor(kind="cli", token_id=None, request_id=None)
    org = store.create_organisation(slug="scale", display_name="Scale", actor=actor)
    token = store.issue_token("scale", actor=actor).secret
    store.close()

    # Straight into the table: the store's create path (audit event per user) would
    # make seeding a million users take longer than the measurement itself.
    engine = Store.open(f"sqlite:///{path}").engine
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, size, BATCH):
            rows = []
            for k in range(start, min(size, start + BATCH)):
                doc = user_doc(k)
                rows.append(
                    {
                        "id": uuid.uuid4().hex,
                        "organisation_id": org.id,
                        "resource_type": "User",
                        "doc": doc,
                        "user_name": doc["userName"],
                        "user_name_lower": str(doc["userName"]).lower(),
                        "external_id": str(uuid.uuid4()),
                        "display_name_lower": str(doc["displayName"]).lower(),
                        "created": now,
                        "last_modified": now,
                        "version": 1,
                        "archived_at": None,
                    }
                )
            conn.execute(resources.insert(), rows)
    engine.dispose()
    return token


@contextlib.contextmanager
def serving(path: Path, port: int):  # type: ignore[no-untyped-def]
    db = f"sqlite:///{path}"
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            str(BIN / "prompt-scim"),
            "--database-url",
            db,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env={**os.environ, "PROMPT_SCIM_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        for _ in range(150):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url).status_code == 200:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/scim/v2"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


async def query(
    base: str, token: str, names: list[str], concurrency: int
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            name = queue.get_nowait()
            expression = 'userName eq "' + name + '"'
            url = f"{base}/Users?filter={quote(expression)}"
            t0 = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                assert response.status == 200, response.status
            latencies.append(time.perf_counter() - t0)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=4_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=18_431)
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})

    rng = random.Random(7)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="scim-scale-") as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"scale-{size}.db"
            t0 = time.perf_counter()
            token = seed(path, size)
            seeded = time.perf_counter() - t0
            hits = [
                f"USER{rng.randrange(size)}@scale.example" for _ in range(args.requests)
            ]
            misses = [str(uuid.uuid4()) for _ in range(args.requests // 4)]
            with serving(path, args.port) as base:
                asyncio.run(query(base, token, hits[:200], args.concurrency))
                hit = asyncio.run(query(base, token, hits, args.concurrency))
                miss = asyncio.run(query(base, token, misses, args.concurrency))
            results[size] = {
                "seed_s": seeded,
                "db_mb": path.stat().st_size / 1e6,
                "hit_p50_ms": percentile(hit, 50),
                "hit_p99_ms": percentile(hit, 99),
                "hit_mean_ms": 1000 * statistics.fmean(hit),
                "miss_p50_ms": percentile(miss, 50),
                "miss_p99_ms": percentile(miss, 99),
            }
            print(f"{size:>9} users: {json.dumps(results[size])}", flush=True)

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "scim_scale.json").write_text(json.dumps(results, indent=2))
    small, large = min(results), max(results)
    if small != large:
        for key in ("hit_p50_ms", "hit_p99_ms", "miss_p50_ms"):
            ratio = results[large][key] / results[small][key]
            print(f"{key}: {large:,} / {small:,} users = {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
