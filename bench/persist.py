"""Streaming results into R2: time and memory of the backend's generate path against a bare streaming put.

Everything runs in the backend's own runtime (wrangler's `startWorker`, workerd, local R2/D1; without wrangler's
DevTools inspector, see `localdev/start_worker.mjs`) and downloads the same bytes from the DashScope stand-in,
which runs as its own process (a PNG padded to the size under test). Compared:

- `drain`, `put`, `buffered`: the probe Worker (`bench/baseline_worker`) reads the result URL and drops it (the
  floor), streams it into R2 (the baseline), or reads it whole and then stores it (the deliberately bad variant);
- `generate`: `POST /api/generate` through the whole local stack (frontend → backend → upstream call, allowlist
  and type checks, byte metering and SHA-256, R2 write, D1 rows, events); `generate-direct` is the same call at the
  backend's own address, which tells the frontend hop apart.

Each round starts every runtime afresh, warms each up with a small image, takes one memory sample per runtime
(its first large body: resident memory only grows back slowly, so a second sample in the same process would
measure what the first left behind), then the time samples in a random order. Ratios pair the samples of one
round. Memory is the peak growth of the workerd process running the Worker's code, above the drain floor (what
the runtime spends receiving the bytes at all), so what remains is what the Worker holds.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.processes import Probe, instrumented_backend, peak_growth, runtime_pids, standin_process, started_probe
from bench.stats import Summary
from bench.verdict import Verdict, at_most, must_fail
from infra.d1.executors import LocalD1Executor
from infra.d1.migrations import MigrationRunner, discover
from infra.model.naming import Role
from localdev.system import LocalSystem, Upstream

MIB = 1024 * 1024
SECTION = "persist"
PROBES = ("drain", "put", "buffered")
GENERATES = ("generate", "generate-direct", "generate-instrumented")
TIME_SIZES_MIB = (1, 2, 8)
MEMORY_SIZE_MIB = 32
RATIO_SIZE_MIB = 2
WARM_UP_MIB = 1
# The backend may cost at most this much more time than the bare streaming put (issue 12's target).
MAX_TIME_RATIO = 1.25
# A Worker holds the body if its memory above the drain floor is at least this many times the streaming put's;
# the same rule must pass the backend and fail the buffering probe.
BUFFERING_RATIO = 2.0
# Growth above the floor below this is sampling noise; ratios divide by at least this much.
MIN_ABOVE_FLOOR_MIB = 1.0
OVERRIDES = {"upstream.max_image_bytes": 100_000_000, "upstream.download_timeout_seconds": 300,
             "upstream.request_timeout_seconds": 60}


@dataclass(frozen=True)
class Timing:
    round: int
    variant: str
    size_mib: int
    seconds: float
    # The Worker's own clock: the probe's `ms`; for generate, the upstream call and the storing of the results as
    # the run's events record them.
    worker_ms: float | None = None
    upstream_ms: float | None = None
    store_ms: float | None = None
    # generate-instrumented: the time the request waited for D1, and its round trips.
    d1_ms: float | None = None
    d1_calls: int | None = None


@dataclass(frozen=True)
class Memory:
    round: int
    variant: str
    size_mib: int
    growth_mib: float


@dataclass
class PersistResult:
    rounds: int
    time_sizes: tuple[int, ...]
    memory_size: int
    timings: list[Timing] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)

    def _paired(self, pick: Callable[[int], float | None]) -> Summary:
        return Summary.of(v for r in range(self.rounds) if (v := pick(r)) is not None)

    def timing(self, variant: str, size: int, r: int) -> Timing | None:
        return next((t for t in self.timings if (t.variant, t.size_mib, t.round) == (variant, size, r)), None)

    def seconds(self, variant: str, size: int) -> Summary:
        return Summary.of(t.seconds for t in self.timings if (t.variant, t.size_mib) == (variant, size))

    def time_ratio(self, size: int, subject: str = "generate") -> Summary:
        """subject / bare put, per round."""
        def pick(r: int) -> float | None:
            a, b = self.timing(subject, size, r), self.timing("put", size, r)
            return a.seconds / b.seconds if a and b else None
        return self._paired(pick)

    def growth(self, variant: str) -> Summary:
        return Summary.of(m.growth_mib for m in self.memory if m.variant == variant)

    def _growth(self, variant: str, r: int) -> float | None:
        return next((m.growth_mib for m in self.memory if (m.variant, m.round) == (variant, r)), None)

    def above_floor(self, variant: str) -> Summary:
        def pick(r: int) -> float | None:
            grown, floor = self._growth(variant, r), self._growth("drain", r)
            return grown - floor if grown is not None and floor is not None else None
        return self._paired(pick)

    def memory_ratio(self, variant: str) -> Summary:
        """(variant - drain) / (put - drain), per round, the denominator at least `MIN_ABOVE_FLOOR_MIB`."""
        def pick(r: int) -> float | None:
            grown, put, floor = self._growth(variant, r), self._growth("put", r), self._growth("drain", r)
            if grown is None or put is None or floor is None:
                return None
            return (grown - floor) / max(put - floor, MIN_ABOVE_FLOOR_MIB)
        return self._paired(pick)

    def breakdown(self, size: int = RATIO_SIZE_MIB) -> Breakdown:
        """Where generate's time above the bare put goes, per round, in ms. Measured directly: the frontend hop
        (the same call at the two addresses), the upstream call and the storing of the results (the run's events),
        the bare put's own work (the probe's clock), the wait for D1 (the instrumented copy of the backend, same
        round); the rest of the backend's request is what remains. The parts add up to the time above the bare
        put."""
        totals: dict[str, list[float]] = {}
        parts: dict[str, list[float]] = {}
        for r in range(self.rounds):
            front, direct, put, metered = (self.timing(v, size, r) for v in
                                           ("generate", "generate-direct", "put", "generate-instrumented"))
            if not (front and direct and put and metered and direct.upstream_ms is not None
                    and direct.store_ms is not None and put.worker_ms is not None and metered.d1_ms is not None):
                continue
            client_overhead = put.seconds * 1000 - put.worker_ms  # the client, wrangler's proxy, HTTP
            for name, value in (("generate through the frontend", front.seconds * 1000),
                                ("bare streaming put", put.seconds * 1000),
                                ("above the bare put", (front.seconds - put.seconds) * 1000)):
                totals.setdefault(name, []).append(value)
            for name, value in (
                ("frontend hop (frontend - backend address)", (front.seconds - direct.seconds) * 1000),
                ("upstream call (run event)", direct.upstream_ms),
                ("download checks, metering/SHA-256, R2 beyond the bare put (run event - probe's clock)",
                 direct.store_ms - put.worker_ms),
                (f"D1 ({metered.d1_calls} round trips, instrumented copy)", metered.d1_ms),
                ("the rest of the backend's request (routing, validation, JSON)",
                 direct.seconds * 1000 - client_overhead - direct.upstream_ms - direct.store_ms - metered.d1_ms),
            ):
                parts.setdefault(name, []).append(value)
        return Breakdown(size, {k: Summary.of(v) for k, v in totals.items()},
                         {k: Summary.of(v) for k, v in parts.items()})


@dataclass(frozen=True)
class Breakdown:
    size_mib: int
    totals: dict[str, Summary]
    parts: dict[str, Summary]

    def why(self) -> str:
        """The reading of a miss: the time above the bare put and its two largest parts."""
        if not self.parts:
            return ""
        biggest = sorted(self.parts.items(), key=lambda kv: -kv[1].median)[:2]
        return (f"of {self.totals['above the bare put'].median:.0f} ms above the bare put at {self.size_mib} MiB, the "
                "largest parts are " + " and ".join(f"{name} {s.median:.0f} ms" for name, s in biggest))


def _result_url(client: httpx.Client, upstream: Upstream) -> str:
    """A fresh result URL from the stand-in's sync endpoint, as the backend receives one."""
    body = {"model": "qwen-image-plus", "input": {"messages": [{"role": "user", "content": [{"text": "bench"}]}]}}
    answer = client.post(f"{upstream.base_url}/api/v1/services/aigc/multimodal-generation/generation", json=body,
                         headers={"Authorization": f"Bearer {upstream.api_key}"})
    answer.raise_for_status()
    return str(answer.json()["output"]["choices"][0]["message"]["content"][0]["image"])


def _image_size(client: httpx.Client, upstream: Upstream, size_mib: int) -> None:
    client.post(f"{upstream.base_url}/_standin/image-behavior",
                json={"mode": "oversize", "bytes": size_mib * MIB}).raise_for_status()


def probe_call(client: httpx.Client, upstream: Upstream, probe: Probe, variant: str, size_mib: int
               ) -> Callable[[], dict]:
    """The probe's `variant` call for a fresh result URL of `size_mib` (minted before the call is timed)."""
    _image_size(client, upstream, size_mib)
    source = _result_url(client, upstream)

    def call() -> dict:
        response = client.get(f"{probe.url}/{variant}", params={"src": source})
        if response.status_code != 200 or response.json()["bytes"] != size_mib * MIB:
            raise RuntimeError(f"probe {variant} failed: {response.status_code} {response.text[:200]}")
        return dict(response.json())
    return call


class _Round:
    """One round's runtimes and the calls the samples make."""

    def __init__(self, client: httpx.Client, upstream: Upstream, probes: dict[str, Probe], system: LocalSystem,
                 instrumented: Probe):
        self.client, self.upstream, self.probes, self.system = client, upstream, probes, system
        self.instrumented = instrumented

    def probe(self, variant: str, size_mib: int) -> Callable[[], dict]:
        return probe_call(self.client, self.upstream, self.probes[variant], variant, size_mib)

    def generate(self, size_mib: int, at: str = "generate") -> Callable[[], dict]:
        """`POST /api/generate` at the frontend (`generate`), the backend (`generate-direct`) or the instrumented
        copy (`generate-instrumented`); answers the run, and the D1 tally when instrumented."""
        _image_size(self.client, self.upstream, size_mib)
        base = {"generate": self.system.url, "generate-direct": self.system.backend_url,
                "generate-instrumented": self.instrumented.url}[at]

        def call() -> dict:
            response = self.client.post(f"{base}/api/generate", json={"prompt": f"bench {size_mib} MiB"})
            if response.status_code != 201 or response.json()["run"]["images"][0]["bytes"] != size_mib * MIB:
                raise RuntimeError(f"generate failed: {response.status_code} {response.text[:200]}")
            return {**response.json()["run"], "d1": json.loads(response.headers.get("x-bench-d1", "null"))}
        return call

    def run_durations(self, run: dict, at: str) -> tuple[float, float]:
        """(upstream call ms, store results ms) from the run's own events."""
        base = self.instrumented.url if at == "generate-instrumented" else self.system.url
        # A run's events are the admin's to read (docs/api.md "Who may read a run").
        events = self.client.get(f"{base}/api/runs/{run['id']}",
                                 headers={"Authorization": f"Bearer {self.system.admin_token}"}).json()["events"]
        detail = {e["to"]: e["detail"] for e in events if e["type"] == "status"}
        return float(detail["persisting"]["duration_ms"]), float(detail["succeeded"]["duration_ms"])


def _timed(call: Callable[[], dict]) -> tuple[float, dict]:
    started = time.perf_counter()
    answer = call()
    return time.perf_counter() - started, answer


def _sample_time(rnd: _Round, r: int, variant: str, size: int) -> Timing:
    if variant in PROBES:
        seconds, answer = _timed(rnd.probe(variant, size))
        return Timing(r, variant, size, seconds, worker_ms=float(answer["ms"]))
    seconds, run = _timed(rnd.generate(size, at=variant))
    upstream_ms, store_ms = rnd.run_durations(run, variant)
    d1 = run["d1"] or {}
    return Timing(r, variant, size, seconds, upstream_ms=upstream_ms, store_ms=store_ms, d1_ms=d1.get("ms"),
                  d1_calls=d1.get("calls"))


def run(rounds: int = 5, time_sizes: tuple[int, ...] = TIME_SIZES_MIB, memory_size: int = MEMORY_SIZE_MIB,
        seed: int = 12, log: Callable[[str], None] = print) -> PersistResult:
    result = PersistResult(rounds, time_sizes, memory_size)
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-persist-") as tmp, \
            standin_process(Path(tmp) / "standin.log") as upstream, httpx.Client(timeout=600) as client:
        for r in range(rounds):
            folder = Path(tmp) / f"round-{r}"
            with ExitStack() as stack:
                waits = {v: stack.enter_context(started_probe(folder, f"bench-{v}")) for v in PROBES}
                system = stack.enter_context(LocalSystem(port=0, state_dir=folder / "system", overrides=OVERRIDES,
                                                         upstream=upstream, inspector=False))
                metered_state = folder / "instrumented"
                MigrationRunner(LocalD1Executor(metered_state, system.database_name), discover()).apply()
                instrumented = stack.enter_context(
                    instrumented_backend(system.config_paths[Role.BACKEND], metered_state, folder))
                rnd = _Round(client, upstream, {v: wait() for v, wait in waits.items()}, system, instrumented)
                backend = runtime_pids(system.server_pids()["backend"], system.backend_port)
                for variant in PROBES:
                    rnd.probe(variant, WARM_UP_MIB)()
                for at in GENERATES:
                    rnd.generate(WARM_UP_MIB, at)()
                for variant in rng.sample([*PROBES, "generate"], k=len(PROBES) + 1):
                    call = rnd.generate(memory_size) if variant == "generate" else rnd.probe(variant, memory_size)
                    pids = backend if variant == "generate" else rnd.probes[variant].pids
                    _, grown = peak_growth(pids, call)
                    result.memory.append(Memory(r, variant, memory_size, grown))
                plan = [(v, s) for s in time_sizes for v in (*PROBES, "generate")]
                plan += [(at, s) for s in time_sizes if s == RATIO_SIZE_MIB for at in GENERATES[1:]]
                for variant, size in rng.sample(plan, k=len(plan)):
                    result.timings.append(_sample_time(rnd, r, variant, size))
            log(f"persist: round {r + 1}/{rounds} done")
    return result


@dataclass(frozen=True)
class InspectorCost:
    """The probe's drain under `wrangler dev` (DevTools inspector attached) and without it: seconds, and the
    growth of wrangler's own proxy process under `wrangler dev`."""

    size_mib: int
    with_inspector: Summary
    without_inspector: Summary
    proxy_growth: Summary


def inspector_cost(size_mib: int = 8, samples: int = 3) -> InspectorCost:
    """What `wrangler dev`'s inspector costs a Worker that only drains a body (why the bench does without it)."""
    seconds: dict[bool, list[float]] = {True: [], False: []}
    proxy: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-inspector-") as tmp, \
            standin_process(Path(tmp) / "standin.log") as upstream, httpx.Client(timeout=600) as client:
        for inspector in (True, False):
            with started_probe(Path(tmp) / str(inspector), "bench-drain", inspector=inspector) as wait:
                probe = wait()
                probe_call(client, upstream, probe, "drain", WARM_UP_MIB)()
                for _ in range(samples):
                    took, grown = peak_growth([probe.proxy], probe_call(client, upstream, probe, "drain", size_mib))
                    seconds[inspector].append(took)
                    if inspector:
                        proxy.append(grown)
    return InspectorCost(size_mib, Summary.of(seconds[True]), Summary.of(seconds[False]), Summary.of(proxy))


def verdicts(result: PersistResult) -> list[Verdict]:
    """The time ratio at each size (guarded at 2 MiB, the target's size), and one memory rule that must pass the
    backend and fail the buffering probe."""
    ratio_size = RATIO_SIZE_MIB if RATIO_SIZE_MIB in result.time_sizes else max(result.time_sizes)
    out = []
    for size in result.time_sizes:
        ratio = result.time_ratio(size)
        out.append(at_most(SECTION, f"generate / bare streaming put at {size} MiB", ratio.median, MAX_TIME_RATIO,
                           unit="x", guarded=size == ratio_size,
                           why=result.breakdown(size).why() if size == ratio_size else ""))
    rule = f"memory above the drain floor / the streaming put's at {result.memory_size} MiB"
    generate = at_most(SECTION, f"generate's {rule}", result.memory_ratio("generate").median, BUFFERING_RATIO,
                       unit="x", why="the backend holds more of the body than the bare streaming put does")
    buffered = at_most(SECTION, f"buffering probe's {rule}", result.memory_ratio("buffered").median,
                       BUFFERING_RATIO, unit="x")
    detection = must_fail(SECTION, f"the same rule for the buffering probe ({buffered.subject})", buffered,
                          why=f"holding a {result.memory_size} MiB body whole does not stand out above the drain "
                              "floor: the bench cannot tell buffering from streaming at this size")
    return [*out, generate, detection]
