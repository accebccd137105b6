"""gunicorn server hooks (`gunicorn -c python:cud_api.config.gunicorn`)."""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus_client a worker is gone, as its multiprocess mode asks of gunicorn.

    Counters and histograms of the dead worker stay in the sum (they count what it did); only
    live gauges' files are dropped. Imported here, in the master, only when a worker exits.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return  # single-process mode: no files to drop
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
