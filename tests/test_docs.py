"""The architecture pages stay true to the tree: every repository file or directory
that docs/ARCHITECTURE.md and docs/seed.md name (`rocketnet/...`, `shim/...`,
`c_stub/...`, `tools/...`, `tests/...`) exists."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMED = re.compile(r"`((?:rocketnet|shim|c_stub|tools|tests)/[\w./-]*)`")
# a table cell may name further files of the directory it named first: `a/b.py`, `c.py`
SIBLING = re.compile(r"`([\w-]+\.(?:py|c|h|md))`")


def _named(page: str) -> list[str]:
    out = []
    for line in (ROOT / "docs" / page).read_text().splitlines():
        paths = NAMED.findall(line)
        out += paths
        if paths and line.startswith("|"):
            base = paths[0].rsplit("/", 1)[0]
            out += [f"{base}/{name}" for name in SIBLING.findall(line.split("|")[-2])]
    return out


def test_architecture_pages_name_files_that_exist() -> None:
    named = _named("ARCHITECTURE.md") + _named("seed.md")
    assert len(named) > 20
    missing = sorted({p for p in named if not (ROOT / p.rstrip("/")).exists()})
    assert missing == []
