"""Internals of ``localdev.dashscope_standin``, one job per module; import from that module instead.

Why a private package: the stand-in's public surface (``StandIn``, ``render_png``, ``main``) stays in
one place while the pieces behind it (wire format, OSS bucket, tasks, control state, HTTP plumbing)
can each be read and changed on their own.
"""

__all__: list[str] = []
