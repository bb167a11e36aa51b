"""Async latency: request → `succeeded` against the task's own time, and the polls it took.

The local system runs with queues on and the committed production settings for the jobs queue and the poll
schedule (`stacks/production.yaml`: `queues.jobs`, `queues.polling`); the stand-in (its own process) keeps every
task RUNNING for `task_seconds`, as DashScope's qwen-image-plus tasks take about 20 s. Each batch submits its runs
a little apart and waits until all have ended; the latency of a run is its own `created_at → completed_at` (D1's
clock), the overshoot that minus the task's time, the polls its `task_polled` events.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from bench.processes import standin_process
from bench.stats import Summary, percentile
from bench.verdict import Verdict, at_most
from infra.model.settings import load_settings
from localdev.system import LocalSystem

SECTION = "async"
TASK_SECONDS = 20.0
RUNS = 20
BATCHES = 3
SPACING_SECONDS = 0.5
MAX_OVERSHOOT_P95 = 5.0
TERMINAL = ("succeeded", "failed", "dead_lettered")


def production_overrides() -> dict[str, object]:
    """Queues on, with production's jobs queue and poll schedule, as dotted overrides of the local stack."""
    queues = load_settings("production").queues
    return {
        "queues.enabled": True,
        **{f"queues.jobs.{k}": v for k, v in queues.jobs.model_dump().items()},
        **{f"queues.polling.{k}": v for k, v in queues.polling.model_dump().items()},
    }


@dataclass(frozen=True)
class Run:
    """One run: request → end, its polls, and where its time above the task's went (from its events): the wait
    for the first delivery and the submit, how long after the task's end the query that saw it came, and the
    download and store after that."""

    batch: int
    status: str
    seconds: float
    polls: int
    expected_from: str | None
    to_submitted: float
    poll_after_task_end: float
    to_completed: float


@dataclass
class AsyncResult:
    task_seconds: float
    batches: int
    runs_per_batch: int
    settings: dict[str, object]
    runs: list[Run] = field(default_factory=list)

    def _per_batch(self, pick: Callable[[list[Run]], float]) -> Summary:
        return Summary.of(pick([r for r in self.runs if r.batch == b]) for b in range(self.batches))

    def latency(self, q: float) -> Summary:
        return self._per_batch(lambda runs: percentile([r.seconds for r in runs], q))

    def overshoot(self, q: float) -> Summary:
        return self._per_batch(lambda runs: percentile([r.seconds - self.task_seconds for r in runs], q))

    def polls(self, q: float) -> Summary:
        return self._per_batch(lambda runs: percentile([float(r.polls) for r in runs], q))

    def parts(self) -> dict[str, Summary]:
        """Medians over the runs of each batch, as min/median/max over the batches."""
        return {name: self._per_batch(lambda runs, attr=attr: percentile([getattr(r, attr) for r in runs], 50))
                for name, attr in (("request → submitted (first delivery, submit call)", "to_submitted"),
                                   ("task end → the query that saw it", "poll_after_task_end"),
                                   ("that query → succeeded (download, R2, D1)", "to_completed"))}

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if r.status != "succeeded"]


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _finished(client: httpx.Client, run_id: str, deadline: float, admin_token: str) -> dict:
    """The run once it ended, with its events (the admin's to read: docs/api.md "Who may read a run")."""
    while True:
        body = client.get(f"/api/runs/{run_id}", headers={"Authorization": f"Bearer {admin_token}"}).json()
        if body["run"]["status"] in TERMINAL:
            return dict(body)
        if time.monotonic() > deadline:
            raise RuntimeError(f"wait for run '{run_id}' failed: still {body['run']['status']} at the deadline")
        time.sleep(0.5)


def _run(batch: int, body: dict, task_seconds: float) -> Run:
    row, events = body["run"], body["events"]
    created, completed = _seconds(row["created_at"]), _seconds(row["completed_at"])
    submitted = next((e for e in events if e["type"] == "status" and e["to"] == "submitted"), None)
    polls = [e for e in events if e["type"] == "task_polled"]
    if submitted is None or not polls:
        return Run(batch, row["status"], completed - created, len(polls), None, 0.0, 0.0, 0.0)
    at_submit, at_poll = _seconds(submitted["at"]), _seconds(polls[-1]["at"])
    return Run(batch, row["status"], completed - created, len(polls), submitted["detail"].get("expected_from"),
               at_submit - created, at_poll - (at_submit + task_seconds), completed - at_poll)


def run(*, task_seconds: float = TASK_SECONDS, runs: int = RUNS, batches: int = BATCHES,
        log: Callable[[str], None] = print) -> AsyncResult:
    overrides = production_overrides()
    result = AsyncResult(task_seconds, batches, runs, overrides)
    with tempfile.TemporaryDirectory(prefix="bench-async-") as tmp, \
            standin_process(Path(tmp) / "standin.log") as upstream, \
            LocalSystem(port=0, state_dir=Path(tmp) / "system", overrides=overrides, upstream=upstream) as system, \
            httpx.Client(base_url=system.url, timeout=60) as client:
        client.post(f"{upstream.base_url}/_standin/tasks", json={"seconds": task_seconds}).raise_for_status()
        for batch in range(batches):
            ids = []
            for i in range(runs):
                answer = client.post("/api/generate", json={"prompt": f"async bench {batch}-{i}"})
                if answer.status_code != 202:
                    raise RuntimeError(f"generate failed: {answer.status_code} {answer.text[:200]}")
                ids.append(answer.json()["run"]["id"])
                time.sleep(SPACING_SECONDS)
            deadline = time.monotonic() + task_seconds * 4 + 120
            for run_id in ids:
                result.runs.append(_run(batch, _finished(client, run_id, deadline, system.admin_token), task_seconds))
            log(f"async: batch {batch + 1}/{batches} done")
    return result


def verdicts(result: AsyncResult) -> list[Verdict]:
    overshoot = result.overshoot(95).median
    why = ("of the overshoot, per run (medians): " + ", ".join(f"{name} {s.median:.1f} s"
                                                             for name, s in result.parts().items()) +
           f"; each delivery may wait up to {result.settings['queues.jobs.max_batch_timeout_seconds']} s for its "
           "batch (queues.jobs.max_batch_timeout_seconds), once before the submit and once before the query")
    out = [at_most(SECTION, f"overshoot p95 over the task's {result.task_seconds:.0f} s", overshoot,
                   MAX_OVERSHOOT_P95, unit=" s", digits=1, why=why)]
    max_polls = float(result.settings["queues.polling.max_polls"])  # type: ignore[arg-type]
    out.append(at_most(SECTION, "polls per run, p95", result.polls(95).median, 3.0, digits=1,
                       why=f"runs kept polling (the cap is {max_polls:.0f})"))
    out.append(at_most(SECTION, "runs that did not succeed", float(len(result.failed)), 0.0, digits=0,
                       why="; ".join(f"{r.status}" for r in result.failed[:3])))
    return out
