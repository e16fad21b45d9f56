"""CI runs exactly the test command that README.md gives."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_readme_test_command():
    lines = (REPO / "README.md").read_text().splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1] == "```bash"
    command = lines[marker + 2]
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci_lines, f".ci/run must run {command!r} verbatim"


# ---------------------------------------------------------------- the README's code runs
import re  # noqa: E402
import shlex  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


def _blocks(lang: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _small_data() -> dict:
    """The names the README's snippets leave to the reader, as tiny generated data."""
    rng = np.random.RandomState(0)
    y = np.repeat(np.arange(4), 15)
    X = rng.randn(60, 6) + y[:, None]
    images = rng.rand(60, 8, 8).astype(np.float32)
    images[np.arange(60), y * 2, :] += 2.0  # a bright row per class
    words = ["film", "movie", "plot", "actor", "scene", "great", "awful", "music"]
    sentences = [[words[(i + j) % 8] for j in range(6)] for i in range(80)]
    token_id_lists = [list(rng.randint(1, 20, size=rng.randint(3, 9))) for _ in range(60)]
    good = ["a great film, loved it", "wonderful acting and music", "great plot, great cast"]
    bad = ["an awful film", "boring plot and bad acting", "terrible, awful music"]
    reviews = (good + bad) * 8
    stars = ([1] * 3 + [0] * 3) * 8
    series = rng.randn(60, 5, 3) + y[:, None, None]  # (n, T, d) float sequences
    # Plays in order, and the features of titles and users (the hybrid and sequential snippet).
    titles = ["Alien", "Heat", "Up", "Brazil", "Ran", "Jaws", "Fargo", "Psycho"]
    genres = [["scifi", "horror"], ["crime"], ["animation"], ["scifi", "comedy"], ["drama"],
              ["horror"], ["crime", "comedy"], ["horror", "crime"]]
    users = [f"user{u}" for u in range(12)]
    plays = pd.DataFrame([(u, titles[(k + 2 * j) % 8], 10 * j) for k, u in enumerate(users) for j in range(5)],
                         columns=["user", "item", "timestamp"])
    items_df = pd.DataFrame({"genres": genres, "decade": ["70s", "90s", "00s", "80s", "80s", "70s", "90s", "60s"]},
                            index=titles)
    users_df = pd.DataFrame({"age_band": ["18-24", "25-34", "35-44"] * 4, "country": ["FR", "US"] * 6}, index=users)
    new_titles_df = pd.DataFrame({"genres": [["scifi"], ["crime", "drama"]], "decade": ["80s", "90s"]},
                                 index=["Dune", "Heist"])
    signup_form_df = pd.DataFrame({"age_band": ["25-34"], "country": ["FR"]}, index=["newcomer"])
    return {"X": X, "y": y, "images": images, "labels": y, "sentences": sentences,
            "token_id_lists": token_id_lists, "reviews": reviews, "stars": stars, "series": series,
            "plays": plays, "items_df": items_df, "users_df": users_df, "new_titles_df": new_titles_df,
            "signup_form_df": signup_form_df}


@pytest.mark.filterwarnings("ignore::maaskit.exceptions.ColdStartWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_readme_code_blocks_run(tmp_path, monkeypatch):
    """Every python block runs as written (in order, sharing names); so do the ``maaskit``
    commands of the bash blocks, and the client talks to the served model in-process."""
    import maaskit.client
    from maaskit.__main__ import main
    from maaskit.serving import create_app

    import maaskit

    # The snippets run as written; only the default epoch counts of the two slowest models
    # shrink (200 epochs of a GAN on 60 rows prove nothing more than 5 do, and cost 15 s).
    for cls in (maaskit.MLPClassifier, maaskit.GAN):
        monkeypatch.setitem(cls.__init__.__kwdefaults__, "max_iter", 5)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAASKIT_HOME", str(tmp_path / "home"))
    python = _blocks("python")
    assert len(python) >= 3 and "maaskit.load" in python[0]
    namespace: dict = _small_data()
    for block in python:
        if block.lstrip().startswith("from maaskit.client import Client"):
            continue  # needs the server: run after the commands below
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    commands = [line.split("#")[0].strip() for block in _blocks("bash") for line in block.splitlines()]
    commands = [c for c in commands if c.startswith("maaskit ")]
    assert any(c.startswith("maaskit models publish") for c in commands)
    for command in commands:
        argv = shlex.split(command)[1:]
        if argv[0] == "serve":
            continue  # blocking; served in-process below
        assert main(argv) == 0, command
    # The client block against the registry the commands filled, served in-process
    # (httpx.ASGITransport is async-only: the sync client goes through a thread portal).
    import anyio.from_thread
    import httpx

    app = create_app(tmp_path / "reg", auth=False)

    class Portal(httpx.BaseTransport):
        def __init__(self, portal):
            self.portal, self.inner = portal, httpx.ASGITransport(app=app)

        def handle_request(self, request):
            async def go():
                req = httpx.Request(request.method, request.url, headers=request.headers,
                                    content=request.read())
                resp = await self.inner.handle_async_request(req)
                return httpx.Response(resp.status_code, headers=resp.headers, content=await resp.aread())

            return self.portal.call(go)

    with anyio.from_thread.start_blocking_portal() as portal:
        real = maaskit.client.Client

        class InProcess(real):
            def __init__(self, base_url, api_key=None, **kw):
                super().__init__(base_url, api_key, transport=Portal(portal), **kw)

        monkeypatch.setattr(maaskit.client, "Client", InProcess)
        client_block = next(b for b in python if "maaskit.client import Client" in b)
        exec(compile(client_block, "README.md", "exec"), namespace)  # noqa: S102
