"""`make dev`: run the whole system locally until Ctrl-C or SIGTERM.

Environment: `PORT` (default 8787), `ADMIN_TOKEN` (default: a new random token), `DASHSCOPE_BASE_URL` +
`DASHSCOPE_API_KEY` (another upstream instead of the stand-in; its host becomes an allowed result host),
`ALLOWED_RESULT_HOSTS` (comma list of further result hosts, e.g. the provider's OSS hosts), `LOCAL_STATE_DIR`
(default `.local`; a relative path is taken from the checkout, as `infra migrate --stack local` takes it),
`ASYNC_ENABLED=true` (queue-based processing with local Queues, as on staging; see docs/async.md). Prints the
URL and the admin token, never any other secret.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from infra.d1.executors import local_state_dir
from infra.model.bindings import SWEEP_CRON
from localdev.system import DEFAULT_PORT, LocalSystem, LocalSystemError, PortInUseError, main_env_upstream


def main() -> int:
    env = os.environ
    try:
        port = int(env.get("PORT") or DEFAULT_PORT)
    except ValueError:
        print(f"make dev failed: PORT must be a number, not {env['PORT']!r}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    extra_hosts = [h.strip() for h in env.get("ALLOWED_RESULT_HOSTS", "").split(",") if h.strip()]
    try:
        system = LocalSystem(
            port=port,
            state_dir=local_state_dir(env),
            admin_token=env.get("ADMIN_TOKEN") or None,
            upstream=main_env_upstream(env),
            extra_result_hosts=extra_hosts,
            overrides={"queues.enabled": True} if env.get("ASYNC_ENABLED", "").lower() == "true" else None,
            echo=sys.stdout,
        )
        print(f"Starting the local system on port {port} ...", flush=True)
        system.start()
    except PortInUseError as exc:
        print(f"make dev failed: port {exc.port} on 127.0.0.1 is already in use; stop what holds it or choose "
              f"another with PORT (PORT={exc.port + 1} make dev)", file=sys.stderr)
        return 1
    except LocalSystemError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        settings = system.settings
        upstream = (settings.upstream.base_url if settings else "?") + (" (stand-in)" if system.standin else "")
        print(
            "\n"
            f"  Local system ready: {system.url}\n"
            f"  Admin token:        {system.admin_token}\n"
            f"  Backend:            {system.backend_url} (frontend reaches it by "
            f"{settings.frontend.backend_access if settings else '?'})\n"
            f"  Sweeper, once:      curl '{system.cron_url(SWEEP_CRON)}'\n"
            f"  Upstream:           {upstream}\n"
            f"  Processing:         {'async (queues)' if settings and settings.async_enabled else 'sync'}\n"
            f"  State:              {system.persist_dir}\n"
            f"  Logs:               {', '.join(str(p) for p in system.log_paths)}\n"
            "  Ctrl-C to stop.\n",
            flush=True,
        )
        while not stop.wait(0.5):
            if not system.alive():
                print("make dev: wrangler exited unexpectedly; see the log above", file=sys.stderr)
                return 1
        print("Stopping ...", flush=True)
        return 0
    finally:
        system.stop()


if __name__ == "__main__":
    sys.exit(main())
