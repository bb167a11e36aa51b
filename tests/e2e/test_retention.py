"""Retention in the real runtime: the backend's cron purges ended runs past `metadata.retention_days` (8 days on
the local stack, a day after its images expire) with their events and assets, in bounded batches, keeps runs in
progress and the rollup cells, shows the purge on the ops summary, and a run whose images expired says so
instead of handing out a URL that answers 404.

The old runs are written by the seeding command (`bench.seed`, the same rows the Worker writes) straight into
the local D1 database of a running system; the cron is fired through wrangler's `--test-scheduled` route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bench.seed import seed
from infra.d1 import rollups
from infra.model.bindings import SWEEP_CRON
from localdev.system import LocalSystem
from tests.e2e.support import d1_of, iso, write_run

DAY = timedelta(days=1)
BATCH_RUNS, MAX_BATCHES = 100, 20  # worker_src/backend/retention.js


@pytest.fixture
def url_admin(url_system: LocalSystem) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {url_system.admin_token}"}
    with httpx.Client(base_url=url_system.url, timeout=30, headers=headers) as client:
        yield client


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _cron(system: LocalSystem) -> None:
    assert system.run_cron(SWEEP_CRON).status_code == 200


def test_cron_purges_ended_runs_past_retention_in_bounded_batches(url_system: LocalSystem,
                                                                  url_admin: httpx.Client) -> None:
    now = datetime.now(UTC)
    oldest, newest = now - 30 * DAY, now - 20 * DAY
    due = MAX_BATCHES * BATCH_RUNS + 150
    report = seed(due, days=10, persist_to=url_system.persist_dir, now_ms=_ms(newest), rng_seed=1201)
    stuck = write_run(url_system, status="running", path=["queued", "submitted", "running"], since=oldest, job_seq=3)
    db = d1_of(url_system)
    between = [iso(oldest - DAY), iso(newest + DAY)]
    count = lambda sql: db.query(sql, between)[0]["n"]  # noqa: E731
    assert count("SELECT COUNT(*) AS n FROM runs WHERE created_at BETWEEN ? AND ?") == due + 1

    _cron(url_system)
    last = url_admin.get("/api/ops/summary", params={"window": "1h"}).json()["retention"]["last_purge"]
    assert (last["runs"], last["more"]) == (MAX_BATCHES * BATCH_RUNS, True)
    _cron(url_system)

    assert db.query("SELECT id FROM runs WHERE created_at BETWEEN ? AND ?", between) == [{"id": stuck}]
    assert count("SELECT COUNT(*) AS n FROM run_events WHERE at BETWEEN ? AND ? AND run_id <> "
                 f"'{stuck}'") == 0
    assert count("SELECT COUNT(*) AS n FROM run_assets WHERE created_at BETWEEN ? AND ?") == 0
    summary = url_admin.get("/api/ops/summary", params={"window": "1h"}).json()
    retention = summary["retention"]
    assert (retention["days"], retention["media_expire_days"]) == (8, 7)
    assert retention["last_purge"]["more"] is False
    purged = retention["purged_in_window"]
    assert purged["ticks"] >= 2 and purged["runs"] >= due and purged["events"] >= report.events
    assert purged["assets"] >= report.assets
    # Rollups outlive the runs: the hour and day cells still count every seeded run, the minute cells went.
    [cells] = db.query("SELECT SUM(runs) AS n FROM run_rollups WHERE grain = 3600 AND bucket BETWEEN ? AND ?",
                       [str(int((oldest - DAY).timestamp())), str(int((newest + DAY).timestamp()))])
    assert cells["n"] == due + 1
    assert db.query("SELECT COUNT(*) AS n FROM run_rollups WHERE grain = 60 AND bucket < ?",
                    [str(int(time.time()) - 2 * 86400)]) == [{"n": 0}]
    assert rollups.differences(db, since_bucket=int((now - 7 * DAY).timestamp())) == []


def test_a_run_still_in_progress_is_never_purged(url_system: LocalSystem, url_admin: httpx.Client) -> None:
    stuck = write_run(url_system, status="queued", path=["queued"], since=datetime.now(UTC) - 60 * DAY)
    _cron(url_system)
    body = url_admin.get(f"/api/runs/{stuck}").json()
    assert body["run"]["status"] == "queued" and len(body["events"]) == 1


def test_a_run_whose_images_expired_says_so(url_system: LocalSystem, url_admin: httpx.Client) -> None:
    stored = datetime.now(UTC) - 7 * DAY - timedelta(hours=2)
    seed(40, days=0.01, persist_to=url_system.persist_dir, now_ms=_ms(stored), rng_seed=1202, async_share=0)
    db = d1_of(url_system)
    [row] = db.query("SELECT r.id, a.r2_key, a.created_at FROM runs r JOIN run_assets a ON a.run_id = r.id "
                     "WHERE a.created_at BETWEEN ? AND ? LIMIT 1", [iso(stored - DAY), iso(stored)])
    [image] = url_admin.get(f"/api/runs/{row['id']}").json()["run"]["images"]
    expires = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")) + 7 * DAY
    assert image | {"sha256": None, "bytes": None} == {
        "url": None, "expired": True, "expires_at": iso(expires), "key": row["r2_key"],
        "content_type": "image/png", "sha256": None, "bytes": None}
    response = url_admin.get(f"/api/media/{row['r2_key']}")
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "media_expired"
    assert response.json()["error"]["message"] == (
        "the image expired: the bucket's lifecycle deletes generated images 7 days after they are stored")


def test_a_fresh_image_says_when_it_expires(url_system: LocalSystem, url_admin: httpx.Client) -> None:
    response = url_admin.post("/api/generate", json={"prompt": "kept for a week"})
    assert response.status_code == 201, response.text
    run = response.json()["run"]
    [image] = run["images"]
    [asset] = d1_of(url_system).query("SELECT created_at FROM run_assets WHERE run_id = ?", [run["id"]])
    expires = datetime.fromisoformat(asset["created_at"].replace("Z", "+00:00")) + 7 * DAY
    assert (image["expired"], image["expires_at"]) == (False, iso(expires))
    assert httpx.get(image["url"], timeout=30).status_code == 200
    missing = image["key"].replace(run["id"], "00000000-0000-4000-8000-000000000000")
    assert url_admin.get(f"/api/media/{missing}").status_code == 404
