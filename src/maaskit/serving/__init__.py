"""HTTP model service: KServe V2 + ``/v1`` endpoints over a registry, with keys and metrics.

Needs the ``serve`` extra (``pip install "maaskit[serve]"``: starlette, uvicorn, httpx).
``maaskit serve`` runs it; :func:`create_app` builds the ASGI app for tests or other servers.
"""

from .app import ServerState, create_app, run
from .auth import Authenticator, allowed
from .batching import MicroBatcher
from .errors import APIError
from .limits import Limits
from .metrics import Metrics
from .pool import WorkerPool

__all__ = ["create_app", "run", "ServerState", "Authenticator", "allowed", "MicroBatcher", "APIError",
           "Metrics", "Limits", "WorkerPool"]
