"""The benchmark's own start-up: a baseline Worker that does not start shows what wrangler said."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.persist import baseline_worker


def test_a_baseline_worker_that_does_not_start_shows_wranglers_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as caught, baseline_worker(tmp_path, main=tmp_path / "missing.js"):
        pass
    message = str(caught.value)
    assert message.startswith(f"start baseline worker 'bench-baseline' failed: wrangler dev exited with 1; its "
                              f"output ({tmp_path / 'baseline-wrangler.log'}):\n")
    assert 'The entry-point file at "missing.js" was not found.' in message
