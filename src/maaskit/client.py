"""Python client of the maaskit model service (``maaskit serve``), on httpx.

>>> from maaskit.client import Client
>>> client = Client("http://127.0.0.1:8000", api_key="mk_...")  # doctest: +SKIP
>>> client.recommend("alice", model="films", n=5)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np

from .exceptions import MaaskitError

__all__ = ["Client", "ServiceError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
           "ServerError", "ServiceUnavailableError"]


class ServiceError(MaaskitError):
    """The service answered with an error (4xx or 5xx); carries the server's error fields.

    Client side: built from the JSON body that the server's :class:`maaskit.serving.APIError`
    produced (``status`` there is ``status_code`` here).

    Parameters
    ----------
    status_code : int
        HTTP status.
    type : str
        The server's error type (``"unknown_user"``, ``"invalid_json"`` ...).
    message : str
        The server's message.
    detail : object, default=None
        The server's extra information.
    """

    def __init__(self, status_code: int, type: str, message: str, detail: Any = None) -> None:
        self.status_code = status_code
        self.type = type
        self.message = message
        self.detail = detail
        super().__init__(f"{status_code} {type}: {message}")


class AuthenticationError(ServiceError):
    """401: no API key, or an invalid or revoked one."""


class PermissionDeniedError(ServiceError):
    """403: the key lacks the scope, or the server refuses the operation."""


class NotFoundError(ServiceError):
    """404: unknown model, version, alias, user or item."""


class ServerError(ServiceError):
    """5xx: the server failed."""


class ServiceUnavailableError(MaaskitError):
    """The server could not be reached after every retry."""


_BY_STATUS = {401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError}


def _is_ragged_clips(inputs: Any) -> bool:
    # a list of n-d arrays (clips) of different shapes: V2 tensors are rectangular
    return (isinstance(inputs, (list, tuple)) and len(inputs) > 1
            and all(isinstance(a, np.ndarray) and a.ndim >= 2 for a in inputs)
            and len({a.shape for a in inputs}) > 1)


def _clip_tensors(clips: Any) -> list:
    """Clips of different lengths as V2 tensors: ``input-0`` padded with zeros, ``lengths``."""
    for i, a in enumerate(clips):
        if a.shape[1:] != clips[0].shape[1:]:
            raise ValueError(f"Client.infer: every clip must have frames of shape {clips[0].shape[1:]!r}; "
                             f"got {a.shape[1:]!r} for clip {i}.")
    T = max(a.shape[0] for a in clips)
    dtype = np.result_type(*[a.dtype for a in clips])
    padded = np.zeros((len(clips), T, *clips[0].shape[1:]), dtype=dtype)
    for i, a in enumerate(clips):
        padded[i, :a.shape[0]] = a
    return [_tensor("input-0", padded), _tensor("lengths", np.array([a.shape[0] for a in clips], dtype=np.int64))]


def _tensor(name: str, values: Any) -> dict:
    arr = np.asarray(values)
    kind = arr.dtype.kind
    datatype = ("BOOL" if kind == "b" else "INT64" if kind in "iu" else
                ("FP32" if arr.dtype == np.float32 else "FP64") if kind == "f" else "BYTES")
    data = arr.astype(str).ravel().tolist() if datatype == "BYTES" else arr.ravel().tolist()
    return {"name": name, "shape": list(arr.shape), "datatype": datatype, "data": data}


class Client:
    """Talk to a maaskit model service: recommendations, predictions, V2 inference, the catalogue.

    Parameters
    ----------
    base_url : str
        ``http://host:port`` or ``https://host:port``.
    api_key : str, default=None
        Token from ``maaskit keys create``; sent as a bearer token.
    timeout : float, default=10.0
        Seconds per request.
    retries : int, default=2
        Extra attempts after a connection error: any request whose connection could not be
        opened, and GET requests whose connection broke (never after the server answered).
    backoff : float, default=0.1
        Seconds before the first retry, doubled each time.
    verify : bool or str, default=True
        TLS verification: ``False``, or a CA bundle path for a self-signed certificate.
    transport : httpx.BaseTransport, default=None
        A custom transport (``httpx.MockTransport`` in tests).

    Attributes
    ----------
    base_url : str
        The server.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 10.0, retries: int = 2,
                 backoff: float = 0.1, verify: Any = True, transport: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self.retries = int(retries)
        self.backoff = float(backoff)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if isinstance(verify, (str, os.PathLike)):
            import ssl

            verify = ssl.create_default_context(cafile=os.fspath(verify))
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, verify=verify,
                                  transport=transport)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, **kwargs)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                # A failed connect never reached the server: always safe to retry. A connection
                # that died mid-request may have been served, so only reads retry then.
                retryable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)) or method == "GET"
                if attempt == self.retries or not retryable:
                    raise ServiceUnavailableError(
                        f"Client: could not reach {self.base_url} after {self.retries + 1} attempt(s): {exc}"
                    ) from exc
                time.sleep(delay)
                delay *= 2
        if response.status_code >= 400:
            try:
                err = response.json()["error"]
                etype, message, detail = err["type"], err["message"], err.get("detail")
            except (ValueError, KeyError, TypeError):
                etype, message, detail = "http_error", response.text[:500], None
            cls = _BY_STATUS.get(response.status_code,
                                 ServerError if response.status_code >= 500 else ServiceError)
            raise cls(response.status_code, etype, message, detail)
        ctype = response.headers.get("content-type", "")
        return response.json() if ctype.startswith("application/json") else response.text

    # ------------------------------------------------------------------ endpoints
    def recommend(self, user_id: Any, *, model: str | None = None, n: int = 10, exclude_seen: bool = True,
                  version: Any = None, strict: bool = False) -> dict:
        """Top-``n`` items for one user.

        Parameters
        ----------
        user_id : str or int
            The user.
        model : str, default=None
            Model name (the server's default model when omitted).
        n : int, default=10
            How many items.
        exclude_seen : bool, default=True
            Leave out items the user interacted with.
        version : int or str, default=None
            Version or alias (``None``: production alias, else latest).
        strict : bool, default=False
            An unknown user is a :class:`NotFoundError` rather than the popularity fallback.

        Returns
        -------
        answer : dict
            ``{"model", "version", "user_id", "items", "scores", "fallback"}`` (and ``"popularity"``
            on a fallback row, whose scores are null; and ``"note"``
            when the id's type is why it is unknown). ``fallback`` is true when the user is
            unknown and got the most popular items, as the library's ``recommend`` does.
        """
        params = _model_params({"n": n, "exclude_seen": "true" if exclude_seen else "false"},
                               model, version)
        if strict:
            params["strict"] = "true"
        return self._request("GET", f"/v1/recommend/{_quote(user_id)}", params=params)

    def recommend_new_user(self, user_features: Any, *, model: str | None = None, n: int = 10,
                           items: Any = None, version: Any = None) -> dict:
        """Top-``n`` items for new users described by features (hybrid models).

        Parameters
        ----------
        user_features : dict or list of dict
            One user as ``{column: value}`` (values: str, number, bool, ``None`` or a list
            of labels), or a list of them. The columns are those of the model's signature
            (``user_features``); a column left out is missing.
        model : str, default=None
            Model name (the server's default model when omitted).
        n : int, default=10
            How many items per user.
        items : list of ids, default=None
            Rank only these items (e.g. the titles added today); ``None``: every item.
        version : int or str, default=None
            Version or alias (``None``: production alias, else latest).

        Returns
        -------
        answer : dict
            ``{"model", "version", "items", "scores"}`` for one user (plus ``"note"`` when
            some values were not seen in training and were ignored), or
            ``{"model", "version", "results": [...]}`` with one such row per user for a list.
        """
        params = _model_params({}, model, version)
        body: dict = {"user_features": user_features, "n": n}
        if items is not None:
            body["items"] = items.tolist() if isinstance(items, np.ndarray) else list(items)
        return self._request("POST", "/v1/recommend", params=params, json=body)

    def recommend_history(self, history: Any, *, model: str | None = None, n: int = 10,
                          exclude_seen: bool = True, version: Any = None) -> dict:
        """Top-``n`` next items for an item history (sequential models such as SASRec).

        For an anonymous session, a new user, or plays newer than the model: the server
        scores the history without refitting (``POST /v1/recommend``).

        Parameters
        ----------
        history : sequence of str or int
            Item ids, oldest first (at most the server's ``max_history``).
        model : str, default=None
            Model name (the server's default model when omitted).
        n : int, default=10
            How many items.
        exclude_seen : bool, default=True
            Leave out the items of the history.
        version : int or str, default=None
            Version or alias (``None``: production alias, else latest).

        Returns
        -------
        answer : dict
            ``{"model", "version", "items", "scores", "fallback", "unknown_items"}`` (and
            ``"popularity"`` on a fallback answer, whose scores are null; and ``"note"`` when an
            item's type is why it is unknown). ``unknown_items`` counts the ids the model does
            not know, which are dropped; ``fallback`` is true when none is known and the most
            popular items came back.

        Raises
        ------
        ServiceError
            400 ``unsupported`` when the model is not sequential, 413 past ``max_history``.
        """
        if isinstance(history, (str, bytes)) or not hasattr(history, "__len__"):
            raise TypeError(f"Client.recommend_history: history must be a sequence of item ids; "
                            f"got {type(history).__name__}.")
        items = np.asarray(history).tolist() if isinstance(history, np.ndarray) else list(history)
        return self._request("POST", "/v1/recommend", params=_model_params({}, model, version),
                             json={"history": items, "n": n, "exclude_seen": exclude_seen})

    def similar(self, item_id: Any, *, model: str | None = None, n: int = 10, version: Any = None) -> dict:
        """The ``n`` items most similar to one item.

        Parameters
        ----------
        item_id : str or int
            The item.
        model : str, default=None
            Model name.
        n : int, default=10
            How many items.
        version : int or str, default=None
            Version or alias.

        Returns
        -------
        answer : dict
            ``{"model", "version", "item_id", "items", "scores"}``.
        """
        params = _model_params({"n": n}, model, version)
        return self._request("GET", f"/v1/similar/{_quote(item_id)}", params=params)

    def predict(self, model: str, instances: Any, *, method: str = "predict", version: Any = None,
                strict: bool = False) -> list:
        """Run ``predict`` (or ``predict_proba`` ...) on rows, or on ``[user, item]`` pairs.

        Parameters
        ----------
        model : str
            Model name.
        instances : array-like
            Feature rows, images or clips (n-d models; a list of arrays for clips of
            different lengths), or user/item pairs for a recommender.
        method : str, default="predict"
            ``predict``, ``predict_proba``, ``decision_function`` or ``transform``.
        version : int or str, default=None
            Version or alias.
        strict : bool, default=False
            For a recommender: an unknown user or item is a :class:`NotFoundError` rather
            than the model's fallback score. Ids keep their JSON type (``"1"`` is not ``1``).

        Returns
        -------
        predictions : list
        """
        if isinstance(instances, np.ndarray):
            rows = instances.tolist()
        elif isinstance(instances, (list, tuple)):  # e.g. clips of different lengths, one array each
            rows = [r.tolist() if isinstance(r, np.ndarray) else r for r in instances]
        else:
            rows = instances
        body: dict = {"instances": rows, "method": method}
        if strict:
            body["strict"] = True
        if version is not None:
            body["version"] = version
        return self._request("POST", f"/v1/predict/{_quote(model)}", json=body)["predictions"]

    def infer(self, model: str, inputs: Any, *, version: Any = None, parameters: dict | None = None,
              outputs: list | None = None, raw: bool = False) -> Any:
        """Open Inference Protocol (V2) inference.

        Parameters
        ----------
        model : str
            Model name.
        inputs : array-like, dict of name to array-like, or list of V2 tensor dicts
            One array becomes the tensor ``input-0`` with the datatype inferred from it. A
            list of clips (arrays) of different lengths becomes ``input-0`` padded with
            zeros to the longest plus an ``INT64`` tensor ``lengths`` (what a model of
            variable-length clips, such as a CRNN, takes).
        version : int or str, default=None
            Version or alias.
        parameters : dict, default=None
            Request parameters (``{"n": 10}`` for recommenders).
        outputs : list of str, default=None
            Outputs to ask for (``["predict_proba"]``).
        raw : bool, default=False
            Return the V2 response document instead of ``{name: ndarray}``.

        Returns
        -------
        outputs : dict of str to ndarray, or dict
        """
        if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
            tensors = inputs
        elif _is_ragged_clips(inputs):
            tensors = _clip_tensors(inputs)
        elif isinstance(inputs, dict):
            tensors = [_tensor(k, v) for k, v in inputs.items()]
        else:
            tensors = [_tensor("input-0", inputs)]
        body: dict = {"inputs": tensors}
        if parameters:
            body["parameters"] = parameters
        if outputs:
            body["outputs"] = [{"name": o} for o in outputs]
        path = f"/v2/models/{_quote(model)}" + (f"/versions/{_quote(version)}" if version is not None else "") + "/infer"
        answer = self._request("POST", path, json=body)
        if raw:
            return answer
        result = {}
        for t in answer["outputs"]:
            data = [np.nan if v is None else v for v in t["data"]] if t["datatype"].startswith("FP") else t["data"]
            result[t["name"]] = np.asarray(data).reshape(t["shape"])
        return result

    def models(self, *, search: str | None = None, tag: str | None = None) -> list:
        """The models this key may read.

        Parameters
        ----------
        search : str, default=None
            Name substring.
        tag : str, default=None
            ``"key"`` or ``"key=value"``.

        Returns
        -------
        models : list of dict
        """
        params = {k: v for k, v in (("search", search), ("tag", tag)) if v is not None}
        return self._request("GET", "/v1/models", params=params)["models"]

    def versions(self, model: str) -> list:
        """All versions of a model.

        Parameters
        ----------
        model : str
            Model name.

        Returns
        -------
        versions : list of dict
        """
        return self._request("GET", f"/v1/models/{_quote(model)}")["versions"]

    def publish(self, model: str, estimator: Any, *, description: str = "", tags: dict | None = None,
                metrics: dict | None = None, alias: str | None = None) -> dict:
        """Publish a fitted estimator (or artifact bytes) as the next version of ``model``.

        The server must run with ``--allow-publish`` and the key needs ``publish:<model>``.

        Parameters
        ----------
        model : str
            Model name.
        estimator : estimator or bytes
            A fitted maaskit estimator, or the bytes of a saved artifact.
        description : str, default=""
            Free text.
        tags : dict, default=None
            Tags.
        metrics : dict, default=None
            Metrics.
        alias : str, default=None
            Alias to point at the new version.

        Returns
        -------
        version : dict
            The catalogue record.
        """
        from .persistence import dumps

        data = bytes(estimator) if isinstance(estimator, (bytes, bytearray, memoryview)) else dumps(estimator)
        meta = {"description": description, "tags": tags or {}, "metrics": metrics or {}}
        if alias is not None:
            meta["alias"] = alias
        return self._request("POST", f"/v1/models/{_quote(model)}", content=data,
                             params={"meta": json.dumps(meta)},
                             headers={"Content-Type": "application/octet-stream"})

    def promote(self, model: str, version: int, alias: str = "production") -> dict:
        """Point ``alias`` at ``version`` (needs ``--allow-publish`` and a publish scope).

        Parameters
        ----------
        model : str
            Model name.
        version : int
            Target version.
        alias : str, default="production"
            Alias to move.

        Returns
        -------
        answer : dict
        """
        return self._request("PUT", f"/v1/models/{_quote(model)}/aliases/{_quote(alias)}", json={"version": version})

    def health(self) -> bool:
        """Whether the server is ready.

        Returns
        -------
        ready : bool
        """
        try:
            return bool(self._request("GET", "/v2/health/ready").get("ready"))
        except (ServiceError, ServiceUnavailableError):
            return False


def _model_params(params: dict, model: str | None, version: Any) -> dict:
    """``params`` with the optional ``model`` and ``version`` query parameters added."""
    if model is not None:
        params["model"] = model
    if version is not None:
        params["version"] = str(version)
    return params


def _quote(value: Any) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")
