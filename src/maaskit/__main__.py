"""``maaskit`` command line: train a first model, manage the registry, serve it over HTTP.

Run ``maaskit --help`` (or ``python -m maaskit --help``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import click

_REGISTRY_HELP = "registry folder (default: $MAASKIT_HOME, else ~/.maaskit)"


_SIGNING_HELP = ("file holding the artifact signing key (default: $MAASKIT_SIGNING_KEY); with a key, "
                 "unsigned or mis-signed models are refused")


def _registry(path: str | None, signing_key_file: str | None = None, create: bool = True) -> Any:
    # Reads pass create=False: they name the folder they looked in and leave none behind.
    from maaskit.registry import Registry

    key = None
    if signing_key_file is not None:
        key = Path(signing_key_file).read_bytes().strip()
        if not key:
            raise click.BadParameter(f"the signing key file {signing_key_file!r} is empty.")
    return Registry(path, signing_key=key, create=create)


def _pairs(values: Sequence[str], what: str, number: bool = False) -> dict:
    out: dict = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{what} must look like key=value; got {v!r}.")
        if number:
            try:
                out[key] = float(val)
            except ValueError:
                raise click.BadParameter(f"{what} {key!r} must be a number; got {val!r}.") from None
        else:
            out[key] = val
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Train, version and serve maaskit models.

    \b
    Start here:
      maaskit quickstart --out model.npz        train on the embedded catalogue, save
      maaskit models publish films model.npz --alias production
      maaskit keys create --scope 'read:*'      print an API key (shown once)
      maaskit serve --port 8000                 KServe V2 + /v1/recommend over HTTP(S), web page at /ui
    """


# ---------------------------------------------------------------------- quickstart / recommend
@cli.command(short_help="Train on a catalogue, print a top-10, save the model.")
@click.option("--out", default="model.npz", show_default=True, help="where to save the model")
@click.option("--user", default=None, help="user id to recommend for (default: the first user)")
@click.option("--movielens", is_flag=True, help="use MovieLens 100k from MAASKIT_DATA instead of the embedded catalogue")
@click.option("--data-home", default=None, help="folder holding ml-100k/ (default: $MAASKIT_DATA)")
def quickstart(out: str, user: str | None, movielens: bool, data_home: str | None) -> int:
    """Train the recommender on a catalogue, print the top-10 for a user and save the model."""
    import maaskit
    from maaskit.datasets import load_default_catalogue, load_movielens

    if movielens:
        ratings, items = load_movielens("100k", data_home=data_home, return_items=True)
        source = "MovieLens 100k"
    else:
        ratings, items = load_default_catalogue(random_state=0)
        source = "the embedded synthetic catalogue"
    click.echo(f"maaskit {maaskit.__version__}: {len(ratings):,} ratings from {source} "
               f"({ratings.user.nunique():,} users, {ratings.item.nunique():,} items)")
    model = maaskit.Recommender(random_state=0)
    t0 = time.perf_counter()
    model.fit(ratings[["user", "item", "rating"]])
    click.echo(f"trained {type(model.estimator_).__name__} in {time.perf_counter() - t0:.2f} s")
    who = ratings.user.iloc[0] if user is None else type(ratings.user.iloc[0])(user)
    top = model.recommend([who], n=10, output="pandas")
    top = top.merge(items[["item", "title"]], on="item", how="left")
    click.echo(f"\ntop-10 for user {who}:")
    for row in top.itertuples():
        click.echo(f"  {row.rank:2d}. {row.title:<45s} predicted {row.score:.2f}")
    path = model.save(out)
    click.echo(f"\nsaved the model to {path} (reload with maaskit.load({str(path)!r}))")
    return 0


@cli.command(short_help="Top-n items for a user from a saved or registered model.")
@click.argument("model")
@click.argument("user")
@click.option("-n", "n", type=int, default=10, show_default=True, help="how many items")
@click.option("--registry", default=None, help="look MODEL up in this registry when it is not a file: "
                                               "NAME, NAME@ALIAS or NAME@VERSION")
def recommend(model: str, user: str, n: int, registry: str | None) -> int:
    """Top-n items for USER from MODEL (a saved .npz, or a registry model NAME[@ALIAS|@VERSION])."""
    import maaskit

    if Path(model).exists() or registry is None and model.endswith(".npz"):
        est = maaskit.load(model)
    else:
        name, _, ref = model.partition("@")
        est = _registry(registry, create=False).load(name, ref or None)
    from maaskit.registry._signature import is_recommender

    if not is_recommender(est):
        # The server's wording ("not a recommender"), never an AttributeError traceback.
        raise click.ClickException(f"model {model!r} is a {type(est).__name__}, not a recommender; it has no users "
                                   f"to recommend for.")
    ids = est.user_index_.ids
    who: Any = user
    # A command-line argument is text, like a URL path: converted to the model's id kind.
    if ids.dtype.kind in "iu" and user.lstrip("-").isdigit():
        who = int(user)
    top = est.recommend([who], n=n, output="pandas")
    click.echo(top.to_string(index=False))
    return 0


# ---------------------------------------------------------------------- serve
@cli.command(short_help="Serve registry models over HTTP(S).")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to bind (0.0.0.0 for all)")
@click.option("--port", type=int, default=8000, show_default=True, help="TCP port")
@click.option("--ssl-certfile", default=None, help="PEM certificate: serve HTTPS")
@click.option("--ssl-keyfile", default=None, help="PEM private key of the certificate")
@click.option("--no-auth", is_flag=True, help="accept requests without API keys (local experiments only)")
@click.option("--allow-publish", is_flag=True, help="accept publishing and alias moves over HTTP (publish scope needed)")
@click.option("--batching", is_flag=True, help="micro-batch recommendations of every model")
@click.option("--batch-model", multiple=True, help="micro-batch recommendations of this model (repeatable)")
@click.option("--max-batch", type=int, default=64, show_default=True, help="largest micro-batch")
@click.option("--max-wait-ms", type=float, default=2.0, show_default=True,
              help="longest a queued request waits for company (a lone request never waits)")
@click.option("--default-model", default=None, help="model of /v1/recommend and /v1/similar without ?model=")
@click.option("--reload-interval", type=float, default=0.5, show_default=True,
              help="seconds between checks for alias moves (hot reload)")
@click.option("--max-body-bytes", type=int, default=1 << 20, show_default=True, help="limit on JSON request bodies")
@click.option("--kernel-threads", type=int, default=1, show_default=True,
              help="threads per kernel/BLAS call (requests already run concurrently)")
@click.option("--http", type=click.Choice(["auto", "h11", "httptools"]), default="auto", show_default=True,
              help="HTTP parser (auto: httptools when installed)")
@click.option("--loop", type=click.Choice(["auto", "asyncio", "uvloop"]), default="auto", show_default=True,
              help="event loop (auto: uvloop when installed)")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log", is_flag=True, help="log every request (costs throughput)")
@click.option("--max-users", type=int, default=1000, show_default=True, help="user ids per infer request (413)")
@click.option("--max-n", type=int, default=1000, show_default=True, help="items per user, n (422)")
@click.option("--max-output-cells", type=int, default=100_000, show_default=True,
              help="users x n of one request (413)")
@click.option("--max-tensor-elements", type=int, default=250_000, show_default=True,
              help="elements of one infer tensor or of predict instances (413)")
@click.option("--max-json-depth", type=int, default=32, show_default=True,
              help="nesting of a JSON body, checked before parsing (413)")
@click.option("--max-history", type=int, default=10_000, show_default=True,
              help="history length of one instance: characters of one text, items of a posted history (413)")
@click.option("--max-header-bytes", type=int, default=32 << 10, show_default=True,
              help="bytes of all request headers (431)")
@click.option("--workers", type=int, default=2, show_default=True,
              help="threads for model calls, JSON work, catalogue reads and model loads")
@click.option("--queue", type=int, default=64, show_default=True,
              help="requests that may wait for a worker; beyond, 503 with Retry-After")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="seconds a request may take (504 beyond; 408 for a body slower than this)")
@click.option("--max-connections", type=int, default=200, show_default=True,
              help="connections in progress at once (503 beyond); bounds memory held by bodies in transit")
@click.option("--public-metrics", is_flag=True, help="serve /metrics without a key (default: 'metrics' scope)")
@click.option("--signing-key-file", default=None, type=click.Path(exists=True, dir_okay=False), help=_SIGNING_HELP)
@click.option("--insecure", is_flag=True, help="allow --no-auth on a host other than loopback")
def serve(registry: str | None, host: str, port: int, ssl_certfile: str | None, ssl_keyfile: str | None,
          no_auth: bool, allow_publish: bool, batching: bool, batch_model: tuple, max_batch: int,
          max_wait_ms: float, default_model: str | None, reload_interval: float, max_body_bytes: int,
          kernel_threads: int, http: str, loop: str, log_level: str, access_log: bool, max_users: int,
          max_n: int, max_output_cells: int, max_tensor_elements: int, max_json_depth: int, max_history: int,
          max_header_bytes: int,
          workers: int, queue: int, timeout: float, max_connections: int, public_metrics: bool,
          signing_key_file: str | None,
          insecure: bool) -> int:
    """Serve the registry's models over HTTP(S): KServe V2, /v1/recommend, /metrics, /openapi.json, /ui.

    \b
    Every request is bounded (--max-* flags; 413/422 beyond, naming the limit). Model calls
    run on --workers threads with a --queue of waiting requests (503 beyond) and a --timeout
    (504). /metrics needs a key with the 'metrics' scope unless --public-metrics.
    """
    from maaskit.serving import run
    from maaskit.serving.app import check_exposure

    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together.")
    try:
        check_exposure(auth=not no_auth, allow_publish=allow_publish, host=host, insecure=insecure)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    reg = _registry(registry, signing_key_file)
    if not no_auth and not any(not k.revoked for k in reg.list_keys()):
        click.echo(f"note: {reg.root} has no API key yet; create one with "
                   f"'maaskit keys create --registry {reg.root} --scope \"read:*\"'", err=True)
    if no_auth:
        click.echo("warning: authentication is OFF (--no-auth): anyone who reaches this port can query.", err=True)
    run(reg, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, log_level=log_level,
        access_log=access_log, kernel_threads=kernel_threads, http=http, loop=loop, auth=not no_auth,
        allow_publish=allow_publish,
        batching=True if batching else set(batch_model), max_batch=max_batch, max_wait_ms=max_wait_ms,
        default_model=default_model, reload_interval=reload_interval, max_body_bytes=max_body_bytes,
        max_users=max_users, max_n=max_n, max_output_cells=max_output_cells, max_tensor_elements=max_tensor_elements,
        max_json_depth=max_json_depth, max_history=max_history, max_header_bytes=max_header_bytes, workers=workers, queue=queue, timeout=timeout,
        public_metrics=public_metrics, insecure=insecure, max_connections=max_connections)
    return 0


# ---------------------------------------------------------------------- models
@cli.group(short_help="List, show, publish, promote, archive, delete models.")
def models() -> None:
    """List, inspect, publish, promote, archive and delete registry models."""


@models.command("list")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
@click.option("--search", default=None, help="name contains this")
@click.option("--tag", default=None, help="has this tag: key or key=value")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def models_list(registry: str | None, search: str | None, tag: str | None, as_json: bool) -> int:
    """List models with their latest version and aliases."""
    from maaskit.registry import ModelNotFoundError

    try:
        rows = _registry(registry, create=False).list_models(search=search, tag=tag)
    except ModelNotFoundError as exc:  # no registry folder yet: nothing to list
        click.echo(f"no models ({exc})")
        return 0
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return 0
    if not rows:
        click.echo("no models")
        return 0
    click.echo(f"{'NAME':<24} {'LATEST':>6} {'VERSIONS':>8}  ALIASES")
    for r in rows:
        aliases = ", ".join(f"{a}->v{v}" for a, v in sorted(r["aliases"].items()))
        click.echo(f"{r['name']:<24} {r['latest_version']:>6} {r['n_versions']:>8}  {aliases}")
    return 0


@models.command("show")
@click.argument("name")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
@click.option("--all", "include_archived", is_flag=True, help="include archived versions")
def models_show(name: str, registry: str | None, include_archived: bool) -> int:
    """Show every version of NAME as JSON (checksum, tags, metrics, signature, aliases)."""
    versions = _registry(registry, create=False).versions(name, include_archived=include_archived)
    if not versions:
        raise click.ClickException(f"no model named {name!r}")
    click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
    return 0


@models.command("publish")
@click.argument("name")
@click.argument("artifact", type=click.Path(exists=True, dir_okay=False))
@click.option("--registry", default=None, help=_REGISTRY_HELP)
@click.option("--description", default="", help="free text")
@click.option("--tag", "tags", multiple=True, help="key=value (repeatable)")
@click.option("--metric", "metrics", multiple=True, help="key=number (repeatable)")
@click.option("--alias", default=None, help="point this alias (e.g. production) at the new version")
@click.option("--signing-key-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="file holding the key the registry signs with (default: $MAASKIT_SIGNING_KEY)")
def models_publish(name: str, artifact: str, registry: str | None, description: str, tags: tuple,
                   metrics: tuple, alias: str | None, signing_key_file: str | None) -> int:
    """Publish a saved model file ARTIFACT as the next version of NAME."""
    mv = _registry(registry, signing_key_file).publish_bytes(name, Path(artifact).read_bytes(), description=description,
                                           tags=_pairs(tags, "--tag"), metrics=_pairs(metrics, "--metric", True),
                                           alias=alias)
    click.echo(f"published {mv.name} v{mv.version} (sha256 {mv.sha256[:12]}...)"
               + (f", alias {alias}" if alias else ""))
    return 0


@models.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--alias", default="production", show_default=True, help="alias to move")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
def models_promote(name: str, version: str, alias: str, registry: str | None) -> int:
    """Point ALIAS of NAME at VERSION (a number or another alias); servers follow within a second."""
    reg = _registry(registry)
    reg.set_alias(name, alias, version)
    click.echo(f"{name}@{alias} -> v{reg.get_version(name, alias).version}")
    return 0


@models.command("archive")
@click.argument("name")
@click.argument("version", type=int)
@click.option("--undo", is_flag=True, help="unarchive")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
def models_archive(name: str, version: int, undo: bool, registry: str | None) -> int:
    """Archive (hide) VERSION of NAME, or unarchive it with --undo."""
    _registry(registry).archive(name, version, archived=not undo)
    click.echo(f"{name} v{version} {'unarchived' if undo else 'archived'}")
    return 0


@models.command("delete")
@click.argument("name")
@click.option("--version", type=int, default=None, help="only this version (default: the whole model)")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
@click.confirmation_option(prompt="Delete for good?", help="do not ask for confirmation")
def models_delete(name: str, version: int | None, registry: str | None) -> int:
    """Delete a model (or one version) and its artifacts."""
    n = _registry(registry).delete(name, version)
    click.echo(f"deleted {n} version(s) of {name}")
    return 0


# ---------------------------------------------------------------------- keys
@cli.group(short_help="Create, list and revoke API keys.")
def keys() -> None:
    """Create, list and revoke API keys (stored hashed in the registry)."""


@keys.command("create")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="'read:<pattern>', 'publish:<pattern>', 'metrics' or 'admin' (repeatable); patterns like 'films-*'")
@click.option("--label", default="", help="who holds the key")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
def keys_create(scopes: tuple, label: str, registry: str | None) -> int:
    """Create an API key and print its token (shown once; only a hash is stored)."""
    key, token = _registry(registry).create_key(list(scopes), label=label)
    click.echo(f"key {key.key_id} scopes {', '.join(key.scopes)}", err=True)
    click.echo(token)
    return 0


@keys.command("list")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
def keys_list(registry: str | None) -> int:
    """List API keys (ids, scopes, labels; never secrets)."""
    for k in _registry(registry, create=False).list_keys():
        state = "revoked" if k.revoked else "active"
        click.echo(f"{k.key_id}  {state:<7}  {','.join(k.scopes):<30}  {k.label}")
    return 0


@keys.command("revoke")
@click.argument("key_id")
@click.option("--registry", default=None, help=_REGISTRY_HELP)
def keys_revoke(key_id: str, registry: str | None) -> int:
    """Revoke the key KEY_ID; servers refuse it within a second."""
    _registry(registry).revoke_key(key_id)
    click.echo(f"revoked {key_id}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``maaskit`` command.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
    """
    from maaskit.exceptions import MaaskitError

    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name="maaskit",
                          standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (MaaskitError, ValueError, TypeError, KeyError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
