"""Specification of the local DashScope stand-in (``localdev.standin``).

The first group drives the stand-in with the official ``dashscope`` SDK: if the SDK parses our
answers the same way it parses Alibaba's, the Worker's client code can trust them too. The rest
pins the raw wire format, the OSS-style result URLs and every control route the backend tests use.
"""

from __future__ import annotations

import inspect
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dashscope
import httpx
import pytest
from dashscope import ImageSynthesis, MultiModalConversation

from infra.ops.upstream import check_dashscope_key
from localdev import standin as standin_package
from localdev.standin import StandIn

KEY = "sk-test-standin"
AUTH = {"Authorization": f"Bearer {KEY}"}
SYNC = "/api/v1/services/aigc/multimodal-generation/generation"
ASYNC = "/api/v1/services/aigc/text2image/image-synthesis"
ASYNC_HEADERS = {**AUTH, "X-DashScope-Async": "enable"}
REPO_ROOT = Path(__file__).resolve().parents[2]
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn(port=0, api_key=KEY) as s:
        yield s


@pytest.fixture
def client(standin: StandIn) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.base_url, timeout=10) as c:
        yield c


@pytest.fixture
def sdk(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """Point the official SDK at the stand-in (``fetch``/``wait`` only read the module global)."""
    monkeypatch.setattr(dashscope, "base_http_api_url", standin.base_url + "/api/v1")
    return standin


def control(client: httpx.Client, name: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/_standin/{name}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def sync_body(prompt: str = "a red fox reading a newspaper, watercolor", **parameters: Any) -> dict[str, Any]:
    return {
        "model": "qwen-image-plus",
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": parameters,
    }


def generate(client: httpx.Client, prompt: str = "a red fox", **parameters: Any) -> str:
    """Sync-generate and return the result URL."""
    r = client.post(SYNC, headers=AUTH, json=sync_body(prompt, **parameters))
    assert r.status_code == 200, r.text
    return r.json()["output"]["choices"][0]["message"]["content"][0]["image"]


def submit(client: httpx.Client, prompt: str = "a red fox", **extra: Any) -> str:
    body = {"model": "qwen-image", "input": {"prompt": prompt}, "parameters": {}, **extra}
    r = client.post(ASYNC, headers=ASYNC_HEADERS, json=body)
    assert r.status_code == 200, r.text
    return r.json()["output"]["task_id"]


def poll(client: httpx.Client, task_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/tasks/{task_id}", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def parse_png(data: bytes) -> tuple[int, int, bytes]:
    """Minimal PNG reader: checks signature, chunk CRCs, IEND; returns (width, height, raw scanlines)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, chunks = 8, b"", []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) == crc, f"bad CRC in {kind!r}"
        chunks.append(kind)
        if kind == b"IDAT":
            idat += payload
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", payload[:10])
            assert (depth, color) == (8, 2)
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and b"IDAT" in chunks
    return width, height, zlib.decompress(idat)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# ---------------------------------------------------------------------------------------------
# Public surface: what other code may rely on (the internals in localdev.standin are private)
# ---------------------------------------------------------------------------------------------


def test_public_surface_is_standin_render_png_and_main_and_nothing_else() -> None:
    star: dict[str, Any] = {}
    exec("from localdev.standin import *", star)
    assert sorted(set(star) - {"__builtins__"}) == ["StandIn", "main", "render_png"], "module exports changed"
    assert sorted(standin_package.__all__) == ["StandIn", "main", "render_png"]
    params = {p.name: p.default for p in inspect.signature(StandIn).parameters.values()}
    assert params == {
        "host": "127.0.0.1",
        "port": 0,
        "api_key": "sk-local-standin",
        "url_ttl_seconds": 86400.0,
        "public_host": None,
        "log_stream": None,
    }, "StandIn constructor changed"
    instance = StandIn()
    public = {n for n in dir(StandIn) if not n.startswith("_")} | {n for n in vars(instance) if not n.startswith("_")}
    assert public == {
        "access_key_id", "api_key", "base_url", "default_url_ttl", "handle", "host", "log_stream", "port",
        "public_host", "reset", "start", "stop", "url_ttl",
    }, "StandIn methods, properties or attributes changed"  # fmt: skip
    assert hasattr(StandIn, "__enter__") and hasattr(StandIn, "__exit__"), "StandIn must stay a context manager"
    assert list(inspect.signature(standin_package.main).parameters) == ["argv"]
    assert list(inspect.signature(standin_package.render_png).parameters) == ["prompt", "seed", "width", "height"]


# ---------------------------------------------------------------------------------------------
# Fidelity: the official dashscope SDK against the stand-in
# ---------------------------------------------------------------------------------------------


def test_sdk_sync_call_parses_image_url_usage_and_request_id(sdk: StandIn) -> None:
    rsp = MultiModalConversation.call(
        model="qwen-image-plus",
        api_key=KEY,
        messages=[{"role": "user", "content": [{"text": "a red fox reading a newspaper"}]}],
        size="1328*1328",
        seed=42,
        negative_prompt="blurry",
        prompt_extend=True,
        watermark=False,
    )
    assert rsp.status_code == 200
    uuid.UUID(rsp.request_id)
    choice = rsp.output.choices[0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    url = choice["message"]["content"][0]["image"]
    assert url.startswith(sdk.base_url + "/") and f"/{rsp.request_id}-1.png?" in url
    assert rsp.output["task_metric"] == {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}
    assert (rsp.usage["width"], rsp.usage["height"], rsp.usage["image_count"]) == (1328, 1328, 1)


def test_sdk_sync_call_with_wrong_key_gets_401_invalid_api_key(sdk: StandIn) -> None:
    rsp = MultiModalConversation.call(
        model="qwen-image", api_key="sk-wrong", messages=[{"role": "user", "content": [{"text": "x"}]}]
    )
    assert (rsp.status_code, rsp.code, rsp.message) == (401, "InvalidApiKey", "Invalid API-key provided.")
    uuid.UUID(rsp.request_id)


def test_sdk_sync_call_with_unlisted_size_gets_400_invalid_parameter(sdk: StandIn) -> None:
    rsp = MultiModalConversation.call(
        model="qwen-image-max", api_key=KEY, messages=[{"role": "user", "content": [{"text": "x"}]}], size="1024*1024"
    )
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")
    assert "1664*928" in rsp.message and "1472*1104" in rsp.message


def test_sdk_sync_call_beyond_rate_limit_gets_429_throttling_rate_quota(sdk: StandIn, client: httpx.Client) -> None:
    control(client, "rate-limit", rps=1)
    messages = [{"role": "user", "content": [{"text": "x"}]}]
    first = MultiModalConversation.call(model="qwen-image", api_key=KEY, messages=messages)
    second = MultiModalConversation.call(model="qwen-image", api_key=KEY, messages=messages)
    assert first.status_code == 200
    assert (second.status_code, second.code) == (429, "Throttling.RateQuota")
    assert second.message == "Requests rate limit exceeded, please try again later."


def test_sdk_async_call_then_fetch_walks_pending_running_succeeded(sdk: StandIn) -> None:
    task = ImageSynthesis.async_call(
        model="qwen-image-plus", prompt="a red fox", negative_prompt="blurry", api_key=KEY, size="1664*928", n=1
    )
    assert task.status_code == 200 and task.output.task_status == "PENDING"
    uuid.UUID(task.output.task_id)
    statuses = [ImageSynthesis.fetch(task, api_key=KEY).output.task_status for _ in range(3)]
    assert statuses == ["PENDING", "RUNNING", "SUCCEEDED"]
    done = ImageSynthesis.fetch(task, api_key=KEY)
    assert done.output.results[0].url.startswith(sdk.base_url + "/")
    assert done.output.results[0]["orig_prompt"] == "a red fox"
    assert "actual_prompt" in done.output.results[0]
    assert done.usage.image_count == 1
    for key in ("submit_time", "scheduled_time", "end_time"):
        assert TIMESTAMP.match(done.output[key]), done.output[key]


def test_sdk_wait_returns_the_result_and_its_image_downloads(sdk: StandIn, client: httpx.Client) -> None:
    control(client, "tasks", polls_pending=0, polls_running=0)
    task = ImageSynthesis.async_call(model="qwen-image", prompt="a lighthouse", api_key=KEY, size="1328*1328")
    done = ImageSynthesis.wait(task, api_key=KEY)
    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED"
    image = httpx.get(done.output.results[0].url)
    assert image.status_code == 200 and parse_png(image.content)[:2] == (1328, 1328)


def test_sdk_wait_on_failed_task_exposes_code_and_message_in_output(sdk: StandIn, client: httpx.Client) -> None:
    control(client, "tasks", polls_pending=0, polls_running=0, outcome="FAILED", code="DataInspectionFailed",
            message="Output data may contain inappropriate content.")  # fmt: skip
    task = ImageSynthesis.async_call(model="qwen-image", prompt="x", api_key=KEY)
    done = ImageSynthesis.wait(task, api_key=KEY)
    assert done.status_code == 200 and done.output.task_status == "FAILED"
    assert done.output["code"] == "DataInspectionFailed"
    assert done.output["message"] == "Output data may contain inappropriate content."


def test_sdk_async_call_with_sync_only_model_gets_400_invalid_parameter(sdk: StandIn) -> None:
    rsp = ImageSynthesis.async_call(model="qwen-image-max", prompt="x", api_key=KEY)
    assert (rsp.status_code, rsp.code) == (400, "InvalidParameter")


def test_sdk_fetch_of_unknown_task_reports_unknown(sdk: StandIn) -> None:
    rsp = ImageSynthesis.fetch("0385dc79-5ff8-4d82-bcb6-aaaaaaaaaaaa", api_key=KEY)
    assert rsp.status_code == 200 and rsp.output.task_status == "UNKNOWN"


def test_sdk_cancel_works_only_while_the_task_is_pending(sdk: StandIn) -> None:
    task = ImageSynthesis.async_call(model="qwen-image", prompt="x", api_key=KEY)
    assert ImageSynthesis.cancel(task, api_key=KEY).status_code == 200
    assert ImageSynthesis.fetch(task, api_key=KEY).output.task_status == "CANCELED"
    again = ImageSynthesis.cancel(task, api_key=KEY)
    assert (again.status_code, again.code) == (400, "UnsupportedOperation")


# ---------------------------------------------------------------------------------------------
# Sync endpoint on the wire
# ---------------------------------------------------------------------------------------------


def test_sync_success_body_has_exactly_the_reference_shape(client: httpx.Client) -> None:
    r = client.post(SYNC, headers=AUTH, json=sync_body())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"output", "usage", "request_id"}
    assert set(body["output"]) == {"choices", "task_metric"}
    assert body["usage"] == {"width": 1664, "height": 928, "image_count": 1}  # default size
    uuid.UUID(body["request_id"])


def test_missing_or_wrong_key_gets_401_with_flat_json_body(client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer sk-nope"}, {"Authorization": KEY}):
        r = client.post(SYNC, headers=headers, json=sync_body())
        assert r.status_code == 401 and r.headers["content-type"] == "application/json"
        assert set(r.json()) == {"request_id", "code", "message"} and r.json()["code"] == "InvalidApiKey"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda b: b["parameters"].update(n=2), id="n-not-1"),
        pytest.param(lambda b: b["parameters"].update(seed=-1), id="seed-negative"),
        pytest.param(lambda b: b["parameters"].update(seed=2147483648), id="seed-too-big"),
        pytest.param(lambda b: b["parameters"].update(size="1024x1024"), id="size-not-in-table"),
        pytest.param(lambda b: b["parameters"].update(size="1472*1140"), id="size-from-2025-table"),
        pytest.param(lambda b: b.update(model="wanx-v1"), id="unknown-model"),
        pytest.param(lambda b: b["input"]["messages"].append(b["input"]["messages"][0]), id="two-messages"),
        pytest.param(lambda b: b["input"]["messages"][0].update(role="assistant"), id="role-not-user"),
        pytest.param(lambda b: b["input"]["messages"][0]["content"].append({"text": "more"}), id="two-texts"),
        pytest.param(lambda b: b["input"]["messages"][0].update(content=[{"image": "http://x/y.png"}]), id="no-text"),
    ],
)
def test_sync_rejects_invalid_requests_with_400_invalid_parameter(client: httpx.Client, mutate: Any) -> None:
    body = sync_body()
    mutate(body)
    r = client.post(SYNC, headers=AUTH, json=body)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter", r.text


def test_sync_without_model_or_input_uses_the_bad_request_codes(client: httpx.Client) -> None:
    assert client.post(SYNC, headers=AUTH, json={"input": {}}).json()["code"] == "BadRequest.EmptyModel"
    assert client.post(SYNC, headers=AUTH, json={"model": "qwen-image"}).json()["code"] == "BadRequest.EmptyInput"


def test_overlong_prompts_are_truncated_not_rejected(client: httpx.Client) -> None:
    assert client.post(SYNC, headers=AUTH, json=sync_body("p" * 900, negative_prompt="n" * 600)).status_code == 200
    control(client, "tasks", polls_pending=0, polls_running=0)
    task_id = submit(client, "p" * 900, parameters={"negative_prompt": "n" * 600})
    assert poll(client, task_id)["output"]["results"][0]["orig_prompt"] == "p" * 800
    assert client.get(f"/_standin/tasks/{task_id}").json()["negative_prompt"] == "n" * 500


# ---------------------------------------------------------------------------------------------
# Async submit and task polling on the wire
# ---------------------------------------------------------------------------------------------


def test_async_submit_without_async_header_gets_403_access_denied(client: httpx.Client) -> None:
    r = client.post(ASYNC, headers=AUTH, json={"model": "qwen-image", "input": {"prompt": "x"}})
    assert r.status_code == 403
    assert r.json()["code"] == "AccessDenied"
    assert r.json()["message"] == "current user api does not support synchronous calls."


def test_async_submit_answers_pending_with_task_id_and_request_id(client: httpx.Client) -> None:
    r = client.post(ASYNC, headers=ASYNC_HEADERS, json={"model": "qwen-image-plus", "input": {"prompt": "x"}})
    body = r.json()
    assert r.status_code == 200 and set(body) == {"output", "request_id"}
    assert body["output"]["task_status"] == "PENDING"
    uuid.UUID(body["output"]["task_id"])


@pytest.mark.parametrize("model", ["qwen-image-max", "qwen-image-max-2025-12-30", "qwen-image-plus-2026-01-09"])
def test_async_submit_of_a_model_without_async_api_is_refused(client: httpx.Client, model: str) -> None:
    r = client.post(ASYNC, headers=ASYNC_HEADERS, json={"model": model, "input": {"prompt": "x"}})
    assert (r.status_code, r.json()["code"]) == (400, "InvalidParameter")
    assert r.json()["message"] == f"Model {model} does not support asynchronous calls; use the synchronous API."


def test_async_negative_prompt_is_accepted_in_input_or_parameters(client: httpx.Client) -> None:
    a = submit(client, input={"prompt": "x", "negative_prompt": "from-input"})
    b = submit(client, parameters={"negative_prompt": "from-parameters"})
    assert client.get(f"/_standin/tasks/{a}").json()["negative_prompt"] == "from-input"
    assert client.get(f"/_standin/tasks/{b}").json()["negative_prompt"] == "from-parameters"


def test_task_progress_is_driven_by_poll_count_not_time(client: httpx.Client) -> None:
    control(client, "tasks", polls_pending=2, polls_running=1)
    task_id = submit(client)
    seen = [poll(client, task_id)["output"] for _ in range(4)]
    assert [o["task_status"] for o in seen] == ["PENDING", "PENDING", "RUNNING", "SUCCEEDED"]
    assert "scheduled_time" not in seen[0] and "end_time" not in seen[2]
    assert TIMESTAMP.match(seen[3]["end_time"])
    record = client.get(f"/_standin/tasks/{task_id}").json()
    assert (record["status"], record["polls"]) == ("SUCCEEDED", 4)


def test_a_timed_task_runs_for_its_seconds_whoever_polls_and_ends_when_it_ended(client: httpx.Client) -> None:
    control(client, "tasks", seconds=0.5)
    task_id = submit(client)
    assert [poll(client, task_id)["output"]["task_status"] for _ in range(3)] == ["RUNNING"] * 3
    time.sleep(0.6)
    done = poll(client, task_id)["output"]
    assert done["task_status"] == "SUCCEEDED" and done["results"][0]["url"]
    record = client.get(f"/_standin/tasks/{task_id}").json()
    assert record["script"]["seconds"] == 0.5 and record["end_time"] - record["submit_time"] == pytest.approx(0.5)
    wire = lambda key: datetime.strptime(done[key], "%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    assert (wire("end_time") - wire("submit_time")).total_seconds() == pytest.approx(0.5, abs=0.002)


def test_a_timed_task_gives_seconds_or_poll_counts_not_both(client: httpx.Client) -> None:
    r = client.post("/_standin/tasks", json={"seconds": 20, "polls_running": 2})
    assert (r.status_code, r.json()["error"]) == (
        400, "seconds times the task instead of polls_pending/polls_running: give one or the other")
    assert client.post("/_standin/tasks", json={"seconds": 0}).status_code == 400


def test_task_script_count_applies_to_the_next_n_tasks_then_reverts(client: httpx.Client) -> None:
    control(client, "tasks", polls_pending=0, polls_running=0, outcome="FAILED", count=1)
    failing, normal = submit(client), submit(client)
    assert poll(client, failing)["output"]["task_status"] == "FAILED"
    assert poll(client, failing)["output"]["code"] == "InternalError"
    assert poll(client, normal)["output"]["task_status"] == "PENDING"  # default script: 1 pending, 1 running


def test_task_script_can_end_in_canceled_or_unknown(client: httpx.Client) -> None:
    for outcome in ("CANCELED", "UNKNOWN"):
        control(client, "tasks", polls_pending=0, polls_running=1, outcome=outcome)
        task_id = submit(client)
        assert poll(client, task_id)["output"]["task_status"] == "RUNNING"
        assert poll(client, task_id)["output"]["task_status"] == outcome


def test_unknown_task_id_answers_200_unknown(client: httpx.Client) -> None:
    body = poll(client, "does-not-exist")
    assert body["output"] == {"task_id": "does-not-exist", "task_status": "UNKNOWN"}
    uuid.UUID(body["request_id"])


def test_the_key_check_of_infra_preflight_is_answered_as_dashscope_answers_it(standin: StandIn,
                                                                            client: httpx.Client) -> None:
    """A task query for an id that does not exist: 200 UNKNOWN with the key, 401 InvalidApiKey with another one,
    and never throttled (only generation calls count against the rate limit)."""
    assert client.post("/_standin/rate-limit", json={"rps": 1}).status_code == 200
    for _ in range(3):
        assert check_dashscope_key(standin.base_url, KEY).ok
    refused = check_dashscope_key(standin.base_url, "sk-of-another-region")
    assert not refused.ok and "(401 InvalidApiKey: Invalid API-key provided.)" in refused.detail
    r = client.get(f"/api/v1/tasks/{uuid.uuid4()}", headers={"Authorization": "Bearer sk-of-another-region"})
    assert r.status_code == 401 and r.json()["code"] == "InvalidApiKey"


# ---------------------------------------------------------------------------------------------
# Result images and OSS-style URLs
# ---------------------------------------------------------------------------------------------


def test_result_image_is_a_real_png_of_the_requested_size(client: httpx.Client) -> None:
    r = httpx.get(generate(client, size="928*1664"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png" and int(r.headers["content-length"]) == len(r.content)
    width, height, raw = parse_png(r.content)
    assert (width, height) == (928, 1664)
    assert len(raw) == height * (1 + 3 * width)


def test_result_image_is_deterministic_for_prompt_seed_and_size(client: httpx.Client) -> None:
    first = httpx.get(generate(client, "a fox", seed=7)).content
    again = httpx.get(generate(client, "a fox", seed=7)).content
    other_seed = httpx.get(generate(client, "a fox", seed=8)).content
    other_prompt = httpx.get(generate(client, "a cat", seed=7)).content
    assert first == again
    assert first != other_seed and first != other_prompt


def test_result_url_has_the_oss_presigned_shape(standin: StandIn, client: httpx.Client) -> None:
    url = generate(client)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == standin.base_url
    assert re.fullmatch(r"/[0-9a-f]{2}/[0-9a-f]{2}/\d{8}/[0-9a-f]{8}/[0-9a-f-]{36}-1\.png", parts.path)
    assert re.fullmatch(r"Expires=\d+&OSSAccessKeyId=LTAI\w+&Signature=[\w%]+", parts.query)
    assert abs(int(query_of(url)["Expires"]) - (time.time() + 86400)) < 5


def test_public_host_overrides_host_in_result_urls() -> None:
    with StandIn(api_key=KEY, public_host="standin.local:9999") as s, httpx.Client(base_url=s.base_url) as c:
        url = generate(c)
        assert url.startswith("http://standin.local:9999/")
        assert httpx.get(s.base_url + url.split(":9999", 1)[1]).status_code == 200


def test_result_url_stops_working_after_its_ttl(client: httpx.Client) -> None:
    control(client, "url-ttl", seconds=1)
    url = generate(client)
    assert httpx.get(url).status_code == 200
    time.sleep(max(0.0, int(query_of(url)["Expires"]) - time.time()) + 0.05)
    r = httpx.get(url)
    assert r.status_code == 403 and r.headers["content-type"] == "application/xml"
    assert "<Code>AccessDenied</Code>" in r.text and "<Message>Request has expired.</Message>" in r.text


def test_expire_urls_expires_everything_issued_so_far(client: httpx.Client) -> None:
    old = generate(client)
    control(client, "expire-urls")
    assert httpx.get(old).status_code == 403 and "Request has expired." in httpx.get(old).text
    assert httpx.get(generate(client)).status_code == 200


def test_tampered_signature_or_expires_gets_403(client: httpx.Client) -> None:
    url = generate(client)
    q = query_of(url)
    bad_sig = url.replace("Signature=", "Signature=AAAA")
    longer = url.replace(f"Expires={q['Expires']}", f"Expires={int(q['Expires']) + 3600}")
    for tampered in (bad_sig, longer):
        r = httpx.get(tampered)
        assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text


# ---------------------------------------------------------------------------------------------
# Control API
# ---------------------------------------------------------------------------------------------


def test_faults_queue_in_order_and_match_their_endpoint(client: httpx.Client) -> None:
    control(client, "faults", count=1, status=503, code="ServiceUnavailable", message="busy", endpoint="sync",
            retry_after=2)  # fmt: skip
    control(client, "faults", count=2, status=500, code="InternalError", message="boom")
    task = client.get("/api/v1/tasks/anything", headers=AUTH)  # only the "any" entry matches a task query
    assert (task.status_code, task.json()["code"]) == (500, "InternalError")
    first = client.post(SYNC, headers=AUTH, json=sync_body())
    assert (first.status_code, first.json()["code"], first.json()["message"]) == (503, "ServiceUnavailable", "busy")
    assert first.headers["retry-after"] == "2"
    assert set(first.json()) == {"request_id", "code", "message"}
    assert client.post(SYNC, headers=AUTH, json=sync_body()).status_code == 500
    assert client.post(SYNC, headers=AUTH, json=sync_body()).status_code == 200


def test_image_fault_answers_with_an_oss_xml_body(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "faults", endpoint="image", status=503, code="ServiceUnavailable", message="slow down")
    r = httpx.get(url)
    assert r.status_code == 503 and r.headers["content-type"] == "application/xml"
    assert "<Code>ServiceUnavailable</Code>" in r.text and "<Message>slow down</Message>" in r.text
    assert httpx.get(url).status_code == 200


def test_latency_delays_only_the_chosen_endpoint_and_zero_clears_it(client: httpx.Client) -> None:
    control(client, "latency", seconds=0.4, endpoint="sync")
    started = time.monotonic()
    generate(client)
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    poll(client, "x")
    assert time.monotonic() - started < 0.3
    control(client, "latency", seconds=0, endpoint="sync")
    started = time.monotonic()
    generate(client)
    assert time.monotonic() - started < 0.3


def test_padding_makes_the_next_json_answers_that_much_longer_and_still_json(client: httpx.Client) -> None:
    control(client, "padding", endpoint="sync", bytes=3_000_000, count=1)
    padded = client.post(SYNC, headers=AUTH, json=sync_body())
    assert padded.status_code == 200
    assert int(padded.headers["content-length"]) == len(padded.content) > 3_000_000
    body = padded.json()
    assert body["padding"] == "x" * 3_000_000 and body["output"]["choices"]
    assert "padding" not in client.post(SYNC, headers=AUTH, json=sync_body()).json(), "count=1: the next is plain"


def test_image_behavior_reset_closes_the_connection_before_any_response(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="reset", count=1)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        httpx.get(url)
    assert httpx.get(url).status_code == 200, "count=1: the next download is served"


def test_image_behavior_truncate_closes_the_connection_after_half_the_body(client: httpx.Client) -> None:
    url = generate(client)
    full = httpx.get(url).content
    control(client, "image-behavior", mode="truncate", count=1)
    received = b""
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as r:
        assert int(r.headers["content-length"]) == len(full)
        for chunk in r.iter_raw():
            received += chunk
    assert received == full[: len(full) // 2]


def test_image_behavior_oversize_serves_exactly_n_bytes_declared_as_png(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="oversize", bytes=3_000_000)
    r = httpx.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert int(r.headers["content-length"]) == len(r.content) == 3_000_000
    assert r.content.startswith(b"\x89PNG")


def test_image_behavior_redirect_answers_302_with_location(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="redirect", location="http://169.254.169.254/latest/meta-data")
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "http://169.254.169.254/latest/meta-data"


def test_image_behavior_wrong_content_type_serves_the_png_as_html(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="wrong-content-type")
    r = httpx.get(url)
    assert r.headers["content-type"] == "text/html" and r.content.startswith(b"\x89PNG")


def test_image_behavior_slow_streams_the_body_over_the_requested_seconds(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="slow", seconds=0.6)
    started = time.monotonic()
    r = httpx.get(url)
    assert time.monotonic() - started >= 0.55
    assert parse_png(r.content)[:2] == (1664, 928)


def test_image_behavior_with_count_reverts_to_normal_afterwards(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "image-behavior", mode="wrong-content-type", count=2)
    types = [httpx.get(url).headers["content-type"] for _ in range(3)]
    assert types == ["text/html", "text/html", "image/png"]


def test_result_url_override_is_handed_out_by_sync_and_async(client: httpx.Client) -> None:
    control(client, "result-url", url="http://127.0.0.2:9/x.png", count=2)
    control(client, "tasks", polls_pending=0, polls_running=0)
    assert generate(client) == "http://127.0.0.2:9/x.png"
    assert poll(client, submit(client))["output"]["results"][0]["url"] == "http://127.0.0.2:9/x.png"
    assert generate(client).startswith(client.base_url.scheme + "://" + client.base_url.netloc.decode())


def test_rate_limit_zero_turns_throttling_off(client: httpx.Client) -> None:
    control(client, "rate-limit", rps=1)
    generate(client)
    assert client.post(SYNC, headers=AUTH, json=sync_body()).status_code == 429
    control(client, "rate-limit", rps=0)
    assert client.post(SYNC, headers=AUTH, json=sync_body()).status_code == 200


def test_reset_restores_every_default(client: httpx.Client) -> None:
    url = generate(client)
    control(client, "faults", count=5)
    control(client, "latency", seconds=2)
    control(client, "image-behavior", mode="wrong-content-type")
    control(client, "url-ttl", seconds=1)
    control(client, "rate-limit", rps=1)
    control(client, "tasks", polls_pending=0, polls_running=0, outcome="FAILED")
    control(client, "result-url", url="http://127.0.0.2:9/x.png")
    control(client, "reset")
    assert client.get("/_standin/calls").json() == {"calls": []}
    started = time.monotonic()
    fresh = generate(client)
    assert time.monotonic() - started < 1.0 and fresh != "http://127.0.0.2:9/x.png"
    assert int(query_of(fresh)["Expires"]) > time.time() + 86000
    assert httpx.get(url).headers["content-type"] == "image/png"
    assert poll(client, submit(client))["output"]["task_status"] == "PENDING"
    assert client.post(SYNC, headers=AUTH, json=sync_body()).status_code == 200


def test_calls_log_records_each_api_call_in_order(client: httpx.Client) -> None:
    url = generate(client)
    task_id = submit(client)
    poll(client, task_id)
    httpx.get(url)
    client.post(f"/api/v1/tasks/{task_id}/cancel", headers=AUTH)
    client.get("/nowhere")
    calls = client.get("/_standin/calls").json()["calls"]
    assert [(c["endpoint"], c["method"], c["status"]) for c in calls] == [
        ("sync", "POST", 200),
        ("async-submit", "POST", 200),
        ("task", "GET", 200),
        ("image", "GET", 200),
        ("cancel", "POST", 200),
        ("other", "GET", 404),
    ]
    assert calls[1]["task_id"] == calls[2]["task_id"] == calls[4]["task_id"] == task_id
    assert calls[3]["path"] == urlsplit(url).path and calls[3]["request_id"] == calls[0]["request_id"]
    assert all(isinstance(c["at"], float) for c in calls)
    assert [c["at"] for c in calls] == sorted(c["at"] for c in calls)


def test_task_record_route_exposes_status_and_poll_count(client: httpx.Client) -> None:
    task_id = submit(client, "a dune")
    poll(client, task_id)
    record = client.get(f"/_standin/tasks/{task_id}").json()
    assert (record["status"], record["polls"], record["prompt"]) == ("PENDING", 1, "a dune")
    assert client.get("/_standin/tasks/nope").status_code == 404


def test_health_unknown_routes_and_wrong_methods_answer_json(client: httpx.Client) -> None:
    assert client.get("/_standin/health").json() == {"ok": True}
    for method, path, status in [
        ("GET", "/api/v1/nothing", 404),
        ("GET", "/_standin/nothing", 404),
        ("GET", SYNC, 405),
        ("POST", "/api/v1/tasks/abc", 405),
        ("GET", "/_standin/reset", 405),
        ("POST", "/_standin/calls", 405),
    ]:
        r = client.request(method, path, headers=AUTH)
        assert r.status_code == status and r.headers["content-type"] == "application/json", (method, path)
        assert "code" in r.json()


def test_control_rejects_invalid_settings_with_400(client: httpx.Client) -> None:
    for name, body in [
        ("faults", {"endpoint": "everything"}),
        ("image-behavior", {"mode": "explode"}),
        ("image-behavior", {"mode": "redirect"}),
        ("tasks", {"outcome": "DONE"}),
        ("result-url", {}),
        ("latency", {"seconds": -1}),
    ]:
        r = client.post(f"/_standin/{name}", json=body)
        assert r.status_code == 400 and r.json()["ok"] is False, (name, body)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def test_cli_prints_ready_logs_without_secrets_and_exits_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-m", "localdev.standin", "--port", "0", "--api-key", "sk-cli-secret-123"]
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, "no READY line within 10 s"
            line = proc.stdout.readline()
            assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+\n", line), line
            r = httpx.post(
                line.split()[1] + SYNC, headers={"Authorization": "Bearer sk-cli-secret-123"}, json=sync_body()
            )
            assert r.status_code == 200
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert proc.stdout.read() == "", "READY must be the only stdout line"
            err.seek(0)
            log = err.read()
            assert SYNC in log and "200" in log
            assert "sk-cli-secret-123" not in log and "Authorization" not in log
        except (AssertionError, subprocess.TimeoutExpired) as exc:
            err.seek(0)
            raise AssertionError(f"{exc}\n--- stand-in stderr ---\n{err.read()}") from exc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_the_modules_behind_the_public_surface_are_private() -> None:
    package = REPO_ROOT / "localdev" / "standin"
    public = sorted(p.name for p in package.glob("*.py") if not p.name.startswith("_"))
    assert public == [], f"modules of localdev.standin must be private (_name.py): {public}"
