"""The shared segment figure: an anonymous shared mapping's touched pages and reserved size."""

from __future__ import annotations

import mmap
import os

import psutil

from bench.procs import shared_segment_snapshot

MIB = 2**20


def test_touching_pages_of_a_shared_mapping_grows_its_pss_not_its_size() -> None:
    me = psutil.Process(os.getpid())
    segment = mmap.mmap(-1, 8 * MIB, flags=mmap.MAP_SHARED)
    try:
        before = shared_segment_snapshot(me)
        for offset in range(0, 2 * MIB, mmap.PAGESIZE):
            segment[offset] = 1
        after = shared_segment_snapshot(me)
    finally:
        segment.close()
    assert after["size_mib"] == before["size_mib"] >= 8.0
    assert 1.9 <= after["pss_mib"] - before["pss_mib"] <= 2.1
