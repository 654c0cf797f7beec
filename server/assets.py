"""Where the browser client and the demo event are, from any install.

A wheel carries them under `server/bundled/` (setup.py copies them in at build
time: the client's pages and modules, socket.io-client's ES build, the demo
event). A checkout or an editable install has no `bundled/` folder and reads
them from the repository's `client/` and `config/` instead. Nothing here
depends on the working directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
BUNDLED = _PACKAGE / "bundled"
_CHECKOUT = _PACKAGE.parent


def client_dir() -> Path:
    """The folder holding the pages (index.html, ...) and js/, css/, i18n/, img/."""
    bundled = BUNDLED / "client"
    return bundled if bundled.is_dir() else _CHECKOUT / "client"


def socket_io_dir() -> Path:
    """socket.io-client's dist/ folder (npm), served at /vendor/socket.io/."""
    bundled = BUNDLED / "client" / "vendor" / "socket.io"
    if bundled.is_dir():
        return bundled
    return _CHECKOUT / "client" / "node_modules" / "socket.io-client" / "dist"


def demo_event() -> Path:
    """The demo event loaded into an empty database (settings.event_file's default)."""
    bundled = BUNDLED / "config" / "demo-event.toml"
    return bundled if bundled.is_file() else _CHECKOUT / "config" / "demo-event.toml"


def hls_js_dir() -> Path:
    """hls.js's dist/ folder (npm), served at /vendor/hls.js/."""
    bundled = BUNDLED / "client" / "vendor" / "hls.js"
    if bundled.is_dir():
        return bundled
    return _CHECKOUT / "client" / "node_modules" / "hls.js" / "dist"
