"""Streaming results into R2: time and memory of the backend's generate path, against a baseline Worker.

Both run under the same local Workers runtime (wrangler dev, workerd, local R2) and download the same bytes
from the DashScope stand-in (a PNG padded to the size under test):

- baseline: `bench/baseline_worker` streams the result URL straight into R2 (`FixedLengthStream` → `put`),
  the least any Worker can do;
- subject: `POST /api/generate` on the real local system (upstream call, allowlist and type checks, byte
  metering and SHA-256, R2 write, D1 rows and events).

Ratios subject/baseline cancel the local runtime's own cost (large: wrangler dev's workerd holds and slows
big bodies even when a Worker only drains them), so what remains is the cost of the backend's code. Peak
memory is workerd's resident set, sampled every 5 ms during the request, minus its idle value.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

from infra.model.contract import COMPATIBILITY_DATE
from localdev.system import LOOPBACK, WRANGLER_JS, LocalSystem, free_port, wrangler_env

MIB = 1024 * 1024
SIZES_MIB = (1, 8, 32)
BASELINE_DIR = Path(__file__).resolve().parent / "baseline_worker"
# Targets for the largest size: the backend may cost at most this much more than the bare streaming put.
MAX_TIME_RATIO = 1.5
MAX_MEMORY_RATIO = 1.5


@dataclass(frozen=True)
class Sample:
    size_mib: int
    baseline_seconds: float
    baseline_growth_mib: float
    subject_seconds: float
    subject_growth_mib: float

    @property
    def time_ratio(self) -> float:
        return self.subject_seconds / self.baseline_seconds

    @property
    def memory_ratio(self) -> float:
        return self.subject_growth_mib / max(self.baseline_growth_mib, 1.0)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def workerd_pids(root: int) -> list[int]:
    """Every workerd process whose ancestry leads to `root` (wrangler's node process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid, ancestor = int(entry.name), int(entry.name)
        while ancestor not in (None, 0, 1, root):
            ancestor = _parent(ancestor)
        try:
            if ancestor == root and b"workerd" in (entry / "cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # a helper process of workerd may end while we sample
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def measure(pids: list[int], request: Callable[[], None]) -> tuple[float, float]:
    """(seconds, peak resident growth in MiB) of one request."""
    idle, peak, done = rss_mib(pids), [0.0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_mib(pids))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        request()
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    return elapsed, max(0.0, peak[0] - idle)


STARTUP_SECONDS = 60
_LOG_TAIL_CHARS = 4000


@contextmanager
def baseline_worker(state_dir: Path, main: Path = BASELINE_DIR / "index.js") -> Iterator[tuple[str, list[int]]]:
    """The baseline Worker (`main`) under wrangler dev; yields its URL and workerd pids. If it does not start,
    the error carries the end of wrangler's output (also kept in `baseline-wrangler.log`)."""
    port = free_port()
    config = state_dir / "baseline.jsonc"
    config.write_text(json.dumps({
        "name": "bench-baseline", "main": str(main), "compatibility_date": COMPATIBILITY_DATE,
        "r2_buckets": [{"binding": "MEDIA", "bucket_name": "bench-baseline"}],
    }))
    log_path = state_dir / "baseline-wrangler.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["node", str(WRANGLER_JS), "dev", "-c", str(config), "--ip", LOOPBACK, "--port", str(port),
             "--persist-to", str(state_dir / "baseline-state")],
            env=wrangler_env(state_dir), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{url}/put", timeout=2).status_code == 400:  # up: it refuses a put without src
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                why = f"exited with {process.returncode}" if process.poll() is not None else \
                    f"did not answer within {STARTUP_SECONDS} s"
                output = log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
                raise RuntimeError(f"start baseline worker 'bench-baseline' failed: wrangler dev {why}; its output "
                                   f"({log_path}):\n{output}")
            time.sleep(0.2)
        yield url, workerd_pids(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _result_url(client: httpx.Client, base_url: str, api_key: str) -> str:
    """A fresh result URL from the stand-in's sync endpoint, as the backend receives one."""
    body = {"model": "qwen-image-plus", "input": {"messages": [{"role": "user", "content": [{"text": "baseline"}]}]}}
    answer = client.post(f"{base_url}/api/v1/services/aigc/multimodal-generation/generation", json=body,
                         headers={"Authorization": f"Bearer {api_key}"})
    answer.raise_for_status()
    return answer.json()["output"]["choices"][0]["message"]["content"][0]["image"]


def _put(client: httpx.Client, baseline_url: str, source: str, expected: int) -> None:
    answer = client.get(f"{baseline_url}/put", params={"src": source})
    if answer.status_code != 200 or answer.json()["bytes"] != expected:
        raise RuntimeError(f"baseline put failed: {answer.status_code} {answer.text[:200]}")


def _generate(client: httpx.Client, system_url: str, expected: int) -> None:
    answer = client.post(f"{system_url}/api/generate", json={"prompt": f"bench {expected} bytes"})
    if answer.status_code != 201 or answer.json()["run"]["images"][0]["bytes"] != expected:
        raise RuntimeError(f"generate failed: {answer.status_code} {answer.text[:200]}")


def run(sizes_mib: tuple[int, ...] = SIZES_MIB) -> list[Sample]:
    samples = []
    overrides = {"upstream.max_image_bytes": 100_000_000, "upstream.download_timeout_seconds": 300,
                 "upstream.request_timeout_seconds": 60}
    with tempfile.TemporaryDirectory(prefix="bench-persist-") as tmp, \
            LocalSystem(port=0, state_dir=Path(tmp) / "system", overrides=overrides) as system, \
            baseline_worker(Path(tmp)) as (baseline_url, baseline_pids), \
            httpx.Client(timeout=600) as client:
        standin = system.standin
        if standin is None:
            raise RuntimeError("the benchmark needs the local stand-in (unset DASHSCOPE_BASE_URL)")
        subject_pids = [pid for root in system.server_pids() for pid in workerd_pids(root)]
        for size in sizes_mib:
            client.post(f"{standin.base_url}/_standin/image-behavior",
                        json={"mode": "oversize", "bytes": size * MIB}).raise_for_status()
            source = _result_url(client, standin.base_url, standin.api_key)

            expected = size * MIB
            baseline_seconds, baseline_growth = measure(baseline_pids, partial(_put, client, baseline_url, source,
                                                                               expected))
            subject_seconds, subject_growth = measure(subject_pids, partial(_generate, client, system.url, expected))
            samples.append(Sample(size, baseline_seconds, baseline_growth, subject_seconds, subject_growth))
    return samples


def verdicts(samples: list[Sample]) -> list[str]:
    largest = max(samples, key=lambda s: s.size_mib)
    problems = []
    if largest.time_ratio > MAX_TIME_RATIO:
        problems.append(f"time ratio {largest.time_ratio:.2f} at {largest.size_mib} MiB > {MAX_TIME_RATIO}")
    if largest.memory_ratio > MAX_MEMORY_RATIO:
        problems.append(f"memory ratio {largest.memory_ratio:.2f} at {largest.size_mib} MiB > {MAX_MEMORY_RATIO}")
    return problems
