"""The monthly cost estimate (infra/ops/cost.py) on a fixed workload, against figures computed by hand from the
pinned prices (infra/ops/prices.yaml); when a price changes, redo the lines it enters."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from infra.model.settings import load_settings
from infra.ops.cost import CostError, Footprint, Plan, Workload, estimate, load_footprint, load_prices

PRICES = load_prices()
# A footprint with round figures (the measured one changes whenever it is measured again).
FOOTPRINT = Footprint.model_validate({
    "measured": "2026-12-02", "how": "round figures for the test",
    "invocations": {
        kind: {"count": 1, "d1_queries": 1, "d1_rows_read": read, "d1_rows_written": written}
        for kind, read, written in (
            ("generate_sync", 1000, 30), ("generate_async", 250, 14), ("read_run", 10, 0), ("read_media", 0, 0),
            ("deliver_submit", 500, 14), ("deliver_poll", 250, 10), ("deliver_final", 1000, 30),
            ("deliver_retry", 6, 5), ("cron_tick", 20, 0))
    },
    "cpu_ms_per_invocation": {"backend": 10, "frontend": 5},
    "d1_bytes_per_run": {"sync": 2000, "async": 3000},
})
# 10,000 runs a day, 90 % with a 2 MB image; async runs poll 3 times, retry 0.1 times, 1 % dead-lettered, last 25 s.
WORKLOAD = Workload(runs_per_day=10_000, succeeded_share=0.9, image_bytes=2_000_000, polls_per_async_run=3,
                    retries_per_async_run=0.1, dead_letter_share=0.01, async_seconds=25)
# Like production: async, runs 731 days, images 730 (Infrequent Access after 60), every log, images from the
# bucket's own domain, the backend through the service binding.
ASYNC_PLAN = Plan(async_enabled=True, retention_days=731, expire_days=730, infrequent_access_days=60,
                  logs_enabled=True, head_sampling_rate=1.0, images_through_worker=False, backend_by_url=False)
# Sync, runs 91 days, images 90 (no Infrequent Access), one log in ten, images and the backend through Workers URLs.
SYNC_PLAN = Plan(async_enabled=False, retention_days=91, expire_days=90, infrequent_access_days=None,
                 logs_enabled=True, head_sampling_rate=0.1, images_through_worker=True, backend_by_url=True)


def costs(plan: Plan, workload: Workload = WORKLOAD) -> dict[str, float]:
    return {f"{line.product}: {line.item}": line.cost for line in estimate(workload, plan, FOOTPRINT, PRICES).lines}


def test_the_prices_file_names_its_sources_and_when_it_was_read() -> None:
    assert PRICES.read == "2026-12-02" and PRICES.month_days == 30
    for product in (PRICES.workers, PRICES.workers_logs, PRICES.d1, PRICES.r2, PRICES.queues):
        assert product.source.startswith("https://developers.cloudflare.com/")


def test_an_async_stack_month_by_hand() -> None:
    # 30 days x 10,000 = 300,000 async runs, 270,000 images.
    # client reads: 300,000 x 25 s / 1 s = 7,500,000; deliveries: 300,000 x (1 + 3 + 0.1 + 0.01) = 1,233,000;
    # cron: 288 x 30 = 8,640. Calls through the frontend: 300,000 + 7,500,000 (images come from the bucket domain).
    # Requests: 7,800,000 + 1,233,000 + 8,640 = 9,041,640 < 10M included: $0.
    # Backend invocations: 300,000 generate + 7,500,000 reads + 300,000 submits + 600,000 polls + 300,000 finals
    #   + 30,000 retries + 8,640 ticks + 3,000 dead letters = 9,041,640.
    # CPU: 7,800,000 x 5 + 9,041,640 x 10 = 129,416,400 ms; (129,416,400 - 30M) x $0.02/M = $1.988328.
    # Log events: 7,800,000 x 1 + 9,041,640 x 2 = 25,883,280; (- 20M) x $0.60/M = $3.529968.
    # D1 read: 75M + 75M + 150M + 150M + 300M + 180,000 + 172,800 = 750,352,800 < 25B: $0.
    # D1 written: 4.2M + 4.2M + 6M + 9M + 150,000 = 23,550,000 < 50M: $0.
    # D1 storage: 10,000 x 731 x 3,000 B = 21.93 GB; (- 5) x $0.75 = $12.6975.
    # R2: 18 GB of images a day. Standard: 18 x 60 = 1,080 GB-month; (- 10) x $0.015 = $16.05.
    #   Infrequent Access: 18 x 670 = 12,060 GB-month x $0.01 = $120.60. Writes 270,000 < 1M: $0. Moves to IA:
    #   270,000, no allowance, billed by the million rounded up: 1M x $9.00/M = $9.00. Reads 270,000 < 10M: $0.
    # Queues: 300,000 x (1 + 3) messages; 3 x 1,200,000 + 30,000 retries + 3 x 3,000 dead letters = 3,639,000;
    #   (- 1M) x $0.40/M = $1.0556.
    assert costs(ASYNC_PLAN) == pytest.approx({
        "Workers: requests": 0, "Workers: CPU time": 1.988328, "Workers Logs: log events": 3.529968,
        "D1: rows read": 0, "D1: rows written": 0, "D1: storage": 12.6975,
        "R2: Standard storage": 16.05, "R2: Infrequent Access storage": 120.60, "R2: Class A (writes)": 0,
        "R2: Class A (moves to Infrequent Access)": 9.00, "R2: Class B (reads)": 0, "Queues: operations": 1.0556,
    })
    month = estimate(WORKLOAD, ASYNC_PLAN, FOOTPRINT, PRICES)
    assert month.total == pytest.approx(5 + 1.988328 + 3.529968 + 12.6975 + 16.05 + 120.60 + 9.00 + 1.0556)
    quantities = {line.item: line.quantity for line in month.lines}
    assert quantities["requests"] == pytest.approx(9_041_640) and quantities["CPU time"] == pytest.approx(129_416_400)
    assert quantities["rows read"] == pytest.approx(750_352_800)
    assert quantities["rows written"] == pytest.approx(23_550_000)
    assert quantities["operations"] == pytest.approx(3_639_000)


def test_a_sync_stack_month_by_hand() -> None:
    # 300,000 sync runs, 270,000 images viewed through the Workers: 570,000 frontend calls, each a second request
    # to the backend's URL: 1,140,000 + 8,640 ticks = 1,148,640 < 10M. No deliveries, no queue.
    # Backend invocations: 300,000 + 270,000 + 8,640 = 578,640; CPU 570,000 x 5 + 578,640 x 10 = 8,636,400 < 30M.
    # Logs: (570,000 + 2 x 578,640) x 0.1 = 172,728 < 20M. D1: 300,172,800 read, 9,000,000 written; storage
    # 10,000 x 91 x 2,000 B = 1.82 GB < 5. R2 Standard: 18 GB x 90 = 1,620 GB-month; (- 10) x $0.015 = $24.15.
    month = estimate(WORKLOAD, SYNC_PLAN, FOOTPRINT, PRICES)
    assert {k: v for k, v in costs(SYNC_PLAN).items() if v} == pytest.approx({"R2: Standard storage": 24.15})
    quantities = {line.item: line.quantity for line in month.lines}
    assert quantities["requests"] == pytest.approx(1_148_640) and quantities["CPU time"] == pytest.approx(8_636_400)
    assert quantities["log events"] == pytest.approx(172_728) and quantities["operations"] == 0
    assert quantities["rows read"] == pytest.approx(300_172_800) and quantities["rows written"] == 9_000_000
    assert month.total == pytest.approx(29.15)


def test_r2_bills_whole_units_beyond_its_allowance() -> None:
    # 40 runs a day x 1 image x 8.5 MB = 340 MB a day, 30 days in Standard: 10.2 GB-month, 0.2 beyond the free 10,
    # billed as a whole GB-month: $0.015.
    small = Workload(40, 1.0, 8_500_000, 0, 0, 0, 0)
    plan = replace(SYNC_PLAN, expire_days=30, retention_days=31)
    [storage] = [line for line in estimate(small, plan, FOOTPRINT, PRICES).lines if line.item == "Standard storage"]
    assert (storage.quantity, storage.billable, storage.cost) == (pytest.approx(10.2), 1, pytest.approx(0.015))


def test_switching_async_on_adds_the_queue_and_the_polls() -> None:
    sync = estimate(WORKLOAD, replace(ASYNC_PLAN, async_enabled=False), FOOTPRINT, PRICES)
    on = estimate(WORKLOAD, ASYNC_PLAN, FOOTPRINT, PRICES)
    # Sync: 300,000 runs x 3,000 -> 2,000 B kept; no queue, no client polls, no deliveries.
    # D1 storage: 10,000 x 731 x 2,000 = 14.62 GB; (- 5) x $0.75 = $7.215.
    assert sync.by_product()["Queues"] == 0 and on.by_product()["Queues"] == pytest.approx(1.0556)
    assert sync.by_product()["D1"] == pytest.approx(7.215)
    assert on.total - sync.total == pytest.approx(1.988328 + 3.529968 + 1.0556 + (12.6975 - 7.215))


def test_a_sync_stack_is_priced_async_with_the_polls_the_schedule_aims_at() -> None:
    never_polled = replace(WORKLOAD, polls_per_async_run=0)
    month = estimate(never_polled, ASYNC_PLAN, FOOTPRINT, PRICES)
    # 300,000 x (1 + 2) messages x 3 + 30,000 + 9,000 = 2,739,000 operations.
    assert {line.item: line.quantity for line in month.lines}["operations"] == pytest.approx(2_739_000)
    assert "2 polls per async run (none observed)" in month.assumptions


def test_shorter_retention_keeps_the_infrequent_access_move_only_while_it_comes_first() -> None:
    assert ASYNC_PLAN.with_retention(365) == replace(ASYNC_PLAN, expire_days=365, retention_days=366)
    assert ASYNC_PLAN.with_retention(45) == replace(ASYNC_PLAN, expire_days=45, retention_days=46,
                                                    infrequent_access_days=None)


def test_the_plan_of_a_stack_file_reads_its_lifecycle_and_logs() -> None:
    production = Plan.of(load_settings("production"))
    assert production == Plan(async_enabled=True, retention_days=731, expire_days=730, infrequent_access_days=60,
                              logs_enabled=True, head_sampling_rate=1, images_through_worker=False,
                              backend_by_url=False)
    assert Plan.of(load_settings("production"), async_enabled=False).async_enabled is False


def test_a_malformed_prices_file_is_refused_with_its_path(tmp_path: Path) -> None:
    broken = tmp_path / "prices.yaml"
    broken.write_text('read: "2026-12-02"\ncurrency: EUR\n')
    with pytest.raises(CostError) as refused:
        load_prices(broken)
    assert str(refused.value).startswith(f"read prices '{broken}' failed: currency: Input should be 'USD'; "
                                         "month_days: Field required; workers: Field required;")
    assert str(refused.value).endswith('; fix the file (docs/runbook.md "Cost per stack")')
    with pytest.raises(CostError, match=r"^read footprint '.*missing.json' failed: No such file"):
        load_footprint(tmp_path / "missing.json")


def test_the_committed_footprint_measures_every_kind() -> None:
    committed = load_footprint()
    assert committed.invocations["generate_sync"].d1_rows_written > 0
    assert committed.d1_bytes_per_run["async"] > committed.d1_bytes_per_run["sync"] > 0
