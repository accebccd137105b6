"""gunicorn server hooks for prometheus_client's multiprocess mode.

Run as `gunicorn -c python:cud_api.config.gunicorn --env PROMETHEUS_MULTIPROC_DIR=<folder>`.
Both hooks run in the master; without the variable (one process), or with the metrics off
(TODO_EDA_METRICS=0), they do nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from contracts.environment import metrics_on

# Not cud_api.metrics.registry: the master needs no metrics of its own.
from cud_api.metrics import MULTIPROC_DIR_VARIABLE


def _folder() -> Path | None:
    if not metrics_on():
        return None
    value = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    """Empty the metrics folder before any worker starts.

    Files of an earlier gunicorn would otherwise be summed into this one's page (also after a
    restart by supervisord, which no launcher step sees). Only prometheus_client's `*.db`
    files are removed, in case the variable names a shared folder.
    """
    folder = _folder()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus_client a worker is gone, as its multiprocess docs ask of gunicorn.

    Counters and histograms of the dead worker stay in the sum (they count what it did); only
    live gauges' files are dropped.
    """
    folder = _folder()
    if folder is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(folder))
