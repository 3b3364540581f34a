"""The vendored front-end files are exactly the pinned releases, and pages load nothing from elsewhere."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
APP_JS = Path(__file__).resolve().parent.parent / "static" / "js" / "app.js"


def test_every_vendored_file_matches_its_pinned_checksum():
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    on_disk = {p.name for p in VENDOR.iterdir() if p.name != "manifest.json"}
    assert on_disk == set(manifest), "a vendored file is missing from the manifest or the other way round"
    for name, entry in manifest.items():
        digest = hashlib.sha256((VENDOR / name).read_bytes()).hexdigest()
        assert digest == entry["sha256"], f"{name} is not the pinned {entry['package']} {entry['version']}"
        assert entry["version"] in name


def test_templates_load_scripts_and_styles_only_from_our_own_static_folder():
    for template in TEMPLATES.rglob("*.html"):
        html = template.read_text()
        assert not re.search(r"""(src|href)=["']https?://""", html), f"{template} loads from another host"
        assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html), (
            f"{template} has inline script, which the CSP forbids"
        )
        assert not re.search(r"\son[a-z]+=", html), f"{template} has an inline event handler"


async def test_pages_link_static_files_with_a_fingerprint_of_their_content(client):
    """After a deploy, browsers must fetch the new app.js instead of running the cached old one."""
    html = await (await client.get("/login")).get_data(as_text=True)
    fingerprint = hashlib.sha256(APP_JS.read_bytes()).hexdigest()[:12]
    assert f"/static/js/app.js?v={fingerprint}" in html
    response = await client.get(f"/static/js/app.js?v={fingerprint}")
    assert response.status_code == 200
