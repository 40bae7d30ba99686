"""Memory budgets: refuse work that cannot fit before allocating it."""
from __future__ import annotations

import os

_GIB = 1024**3


def available_bytes() -> int:
    """Memory the OS says can be allocated now (MemAvailable), or physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def require_memory(nbytes: int, what: str) -> None:
    """Raise ValueError if `nbytes` for `what` exceeds the memory available now."""
    avail = available_bytes()
    if nbytes > avail:
        raise ValueError(
            f"{what} would need {nbytes / _GIB:.3g} GiB, but only {avail / _GIB:.3g} GiB "
            "of memory is available; use fewer sites (n), a smaller q, or a smaller batch"
        )
