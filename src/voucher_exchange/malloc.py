"""The C allocator's share of a long-running process's memory: glibc's malloc arenas.

glibc gives each thread that allocates while another holds the main arena an arena of its
own, up to 8 per core, and an arena returns to the system only the free memory at its top.
A process whose threads come and go (the API's thread pool, the sandbox's per-thread
connections) spreads its small allocations over many arenas, and their free holes add up
to tens of MB that RSS never gives back (docs/benchmarks.md, the soak). Four arenas keep
that bounded at no measurable cost in CPU; two held 2 MB less but cost ~15% more CPU per
trade in the embedded soak (threads queueing on the arenas' locks while SQLite allocates
outside the GIL).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 4
"""Arenas a `serve` or `worker` process allocates from (`MALLOC_ARENA_MAX` overrides it)."""

_M_ARENA_MAX = -8  # glibc's malloc.h


def cap_arenas(arenas: int = ARENAS) -> bool:
    """Limit glibc's malloc to `arenas` arenas; True if glibc took the limit.

    Call it before the process starts its second thread: glibc fixes the limit when a thread
    first needs an arena of its own. A `MALLOC_ARENA_MAX` in the environment wins (False,
    nothing changed), and so does any C library that is not glibc (musl, macOS: False).
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        gnu_get_libc_version = libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    del gnu_get_libc_version  # only glibc has it: musl's mallopt accepts and ignores everything
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
