"""Network helpers shared by the launcher of distributed training, the tests and the benchmarks."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` now.

    The OS picks it (bind to port 0); the socket is closed before returning, so another
    process may take the port in between: callers bind soon after and retry on a clash.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
