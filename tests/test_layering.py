"""The dashboard's layers: rendering every page imports no torch library. The import-linter contract reads the
imports written in the code; this test renders the pages in a fresh interpreter and looks at what was really imported
(an import inside a function, or one made by a library the app uses, counts too)."""

import json
import subprocess
import sys

from tests.conftest import APP_MAIN, REPO

TORCH_LIBRARIES = ("torch", "torchvision", "open_clip", "timm")
PAGES = sorted(path.name for path in (REPO / "app" / "app_pages").glob("[!_]*.py"))  # not __init__.py

# Renders each page (argv[2:]) through app/main.py (argv[1]), then prints the torch modules it imported, as JSON.
RENDER_PAGES = f"""
import json, sys
from streamlit.testing.v1 import AppTest

for page in sys.argv[2:]:
    app = AppTest.from_file(sys.argv[1], default_timeout=120)
    app.switch_page("app_pages/" + page)
    app.run()
    assert not app.exception, (page, app.exception)
    assert app.title, page + " stopped before its title"
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {TORCH_LIBRARIES!r})))
"""


def test_every_page_renders_without_importing_torch(with_runs):
    assert "overview.py" in PAGES  # the glob found the pages
    done = subprocess.run(
        [sys.executable, "-c", RENDER_PAGES, APP_MAIN, *PAGES], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
