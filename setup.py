"""Build hook: the wheel carries the browser client and the demo event.

They live at the top of the repository (client/, config/) so the client stays
a plain folder of static files; a wheel copies them under server/bundled/,
where server/assets.py finds them whatever the working directory. Everything
else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CLIENT = ROOT / "client"
CLIENT_FOLDERS = ("js", "css", "i18n", "img")
# Only the ES build the pages import (client/js/realtime.js), not all of node_modules.
SOCKET_IO = CLIENT / "node_modules" / "socket.io-client" / "dist"
SOCKET_IO_FILES = ("socket.io.esm.min.js", "socket.io.esm.min.js.map")
# hls.js's ES build without subtitles/alternate audio/DRM (client/js/hls-view.js).
HLS_JS = CLIENT / "node_modules" / "hls.js" / "dist"
HLS_JS_FILES = ("hls.light.min.mjs", "hls.light.min.mjs.map")


class BuildWithSite(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads client/ and config/ in place
        for folder, files in ((SOCKET_IO, SOCKET_IO_FILES), (HLS_JS, HLS_JS_FILES)):
            missing = [n for n in files if not (folder / n).is_file()]
            if missing:
                raise SystemExit(
                    f"{folder} lacks {', '.join(missing)}: run `npm ci --omit=dev` in client/ "
                    "before building halqa (the pages need socket.io-client and hls.js)"
                )
        out = Path(self.build_lib) / "server" / "bundled"
        shutil.rmtree(out, ignore_errors=True)
        (out / "client").mkdir(parents=True)
        for page in CLIENT.glob("*.html"):
            shutil.copyfile(page, out / "client" / page.name)
        for folder in CLIENT_FOLDERS:
            shutil.copytree(CLIENT / folder, out / "client" / folder)
        vendor = out / "client" / "vendor" / "socket.io"
        vendor.mkdir(parents=True)
        for name in SOCKET_IO_FILES:
            shutil.copyfile(SOCKET_IO / name, vendor / name)
        (out / "client" / "vendor" / "hls.js").mkdir(parents=True)
        for name in HLS_JS_FILES:
            shutil.copyfile(HLS_JS / name, out / "client" / "vendor" / "hls.js" / name)
        (out / "config").mkdir(parents=True)
        shutil.copyfile(ROOT / "config" / "demo-event.toml", out / "config" / "demo-event.toml")


setup(cmdclass={"build_py": BuildWithSite})
