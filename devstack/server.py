"""Chalice's local HTTP server, as ``make run`` and the fuzzing gate serve the app.

Python's ``http.server`` answers methods it has no ``do_<METHOD>`` for (TRACE,
QUERY, ...) itself with ``501`` before the app sees them. Handing every method
to the app lets Chalice answer ``405`` as it does for any method a route does
not declare — a 5xx is never the answer to a client's request.
"""

from __future__ import annotations

import functools
from typing import Any

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalChalice, LocalDevServer, create_local_server


class RequestHandler(ChaliceRequestHandler):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)


def local_server(app: Any, host: str, port: int) -> LocalDevServer:
    """A threaded local server for ``app`` on ``host:port`` (call ``serve_forever``)."""
    config = Config(chalice_stage="local")
    if isinstance(app, LocalChalice):  # already made thread-safe by an earlier server in this process
        return LocalDevServer(app, config, host, port, handler_cls=RequestHandler)
    server = create_local_server(app, config, host, port)
    server.server.RequestHandlerClass = functools.partial(RequestHandler, app_object=app, config=config)
    return server
