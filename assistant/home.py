"""Where the project keeps its cache (converted base models): $ASSISTANT_HOME or the user cache dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def assistant_home() -> Path:
    configured = os.environ.get("ASSISTANT_HOME")
    home = Path(configured) if configured else Path(platformdirs.user_cache_dir("assistant"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    path = assistant_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
