"""Local stand-in for Alibaba DashScope's Qwen-Image text-to-image API.

Why: the backend Worker must be developed and tested end to end without internet access or a real
API key. The stand-in speaks the DashScope wire format documented in
``shared/reference/dashscope-api.md`` (sync generation, async submit, task polling, cancel, OSS
presigned result URLs) closely enough that the official ``dashscope`` Python SDK accepts it, and it
adds a small control API under ``/_standin/`` so tests can inject faults, latency, broken image
downloads, expired URLs and scripted task outcomes deterministically.

Run: ``python -m localdev.standin --host 127.0.0.1 --port 8790 --api-key KEY``.
Embed: ``with StandIn(port=0) as s: ... s.base_url ...``.

This package's public surface is ``__all__``; its modules are private, one job each: ``_wire``
(DashScope requests and bodies), ``_oss`` (presigned result URLs), ``_downloads`` and ``_png`` (result
images), ``_tasks`` (async task lifecycle), ``_control`` and ``_control_api`` (the ``/_standin/`` state
and routes), ``_replies`` and ``_server`` (HTTP plumbing), ``_standin`` (the application that joins them).
"""

from localdev.standin._png import render_png
from localdev.standin._standin import StandIn, main

__all__ = ["StandIn", "main", "render_png"]
