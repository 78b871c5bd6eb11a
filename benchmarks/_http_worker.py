"""One uvicorn worker serving a ``benchmarks._http_apps`` factory on an inherited socket.

``python -m benchmarks._http_worker FD FACTORY``. ``benchmarks.http`` binds the listening
socket once and starts one of these per worker, rather than ``uvicorn --workers``: uvicorn
rebuilds the socket it hands its workers with protocol 0, so asyncio does not set
``TCP_NODELAY`` on the connections they accept, and each response's second write waits for
the client's delayed ACK (about 40 ms), which caps four workers near 200 requests/s whatever
the app does. ``socket.socket(fileno=FD)`` reads the real protocol from the descriptor.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from . import _http_apps


def main(argv: list[str]) -> None:
    fd, factory = int(argv[0]), argv[1]
    sock = socket.socket(fileno=fd)
    app = getattr(_http_apps, factory)()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
