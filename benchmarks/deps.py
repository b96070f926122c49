"""Install the ``bench`` extra (and the ``testing`` extra the local server needs) if missing.

    python -m benchmarks.deps        # install what is missing, with this interpreter's pip

Reads the requirement lists from pyproject.toml and installs them by name (never the project
itself, and nothing that is already satisfied), so Airflow in the venv is left as it is.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
EXTRAS = ("testing", "bench")


def requirements() -> list[str]:
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    return [r for name in EXTRAS for r in extras.get(name, [])
            if not Requirement(r).name.startswith("airflow-provider-saltant")]


def missing() -> list[str]:
    out = []
    for text in requirements():
        req = Requirement(text)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            out.append(text)
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            out.append(text)
    return out


def main() -> int:
    todo = missing()
    if not todo:
        return 0
    print(f"[bench] installing {' '.join(todo)}", file=sys.stderr, flush=True)
    return subprocess.call([sys.executable, "-m", "pip", "install", "--quiet",
                            "--disable-pip-version-check", "--no-input", *todo])


if __name__ == "__main__":
    raise SystemExit(main())
