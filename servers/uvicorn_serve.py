"""Run a FastAPI stack under uvicorn, with a shutdown that drains instead of dropping.

Stock uvicorn, on SIGTERM, stops listening and at once closes every connection that has no
request in progress. A client that has just sent its next request on a keep-alive connection
loses it: the bytes are in flight, the socket is closed. Here shutdown first stops accepting
(new connections are refused cleanly), then answers whatever still arrives on open connections
with `Connection: close`, and only when they are gone (or after drain_s) runs uvicorn's usual
graceful shutdown. Every other setting is uvicorn's own, through its documented Config API.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import uvicorn
from uvicorn.supervisors import multiprocess

from servers.draining import DRAINING


class DrainingServer(uvicorn.Server):
    drain_s = 2.0

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        DRAINING.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_s
        while self.server_state.connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await super().shutdown(sockets)


class DrainingProcess(multiprocess.Process):
    """A worker of uvicorn's supervisor that runs a DrainingServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="module:attribute of the ASGI app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keepalive-s", type=int, default=5)
    parser.add_argument("--graceful-timeout-s", type=int, default=10)
    parser.add_argument("--drain-s", type=float, default=DrainingServer.drain_s)
    args = parser.parse_args(argv)
    DrainingServer.drain_s = args.drain_s
    config = uvicorn.Config(
        args.app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,  # a log line per request is a hot-path cost; gunicorn's default too
        timeout_keep_alive=args.keepalive_s,
        timeout_graceful_shutdown=args.graceful_timeout_s,
    )
    if args.workers == 1:
        DrainingServer(config).run()
        return
    # The supervisor builds its workers from this module-level name, in this process.
    multiprocess.Process = DrainingProcess  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()


if __name__ == "__main__":
    main()
