"""GraphiQL served entirely by the app: the page and its vendored JS/CSS
(app/core/static/graphiql/, from the npm packages named in VERSIONS there). Strawberry's
own page loads React and GraphiQL from a CDN, which renders blank on an air-gapped host."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

ASSETS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
)

# The fetcher uses the page's own URL (HTTP and, for subscriptions, the same path over
# WebSocket), so the page works behind any host name or prefix-free reverse proxy.
_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>PMS GraphiQL</title>
    <style>body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}</style>
    <link rel="stylesheet" href="{assets}/graphiql.min.css" />
    <script src="{assets}/react.production.min.js"></script>
    <script src="{assets}/react-dom.production.min.js"></script>
    <script src="{assets}/graphiql.min.js"></script>
  </head>
  <body>
    <div id="graphiql">Loading...</div>
    <script>
      const url = window.location.href.split("?")[0];
      const ws = new URL(url);
      ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
      const fetcher = GraphiQL.createFetcher({{ url: url, subscriptionUrl: ws.toString() }});
      const root = ReactDOM.createRoot(document.getElementById("graphiql"));
      root.render(React.createElement(GraphiQL, {{
        fetcher: fetcher,
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
      }}));
    </script>
  </body>
</html>
"""


def page_html(assets_path: str = ASSETS_PATH) -> str:
    """The GraphiQL page; every asset it names is served by ``assets_mount``."""
    return _PAGE.format(assets=assets_path)


def assets_mount(path: str = ASSETS_PATH) -> Mount:
    return Mount(path, app=StaticFiles(directory=STATIC_DIR), name="graphiql-assets")
