"""Settings and XDG paths. Imports nothing heavy: the CLI reads it before anything else."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "tui-tagger"


def _xdg(env: str, fallback: str) -> Path:
    value = os.environ.get(env)
    return Path(value) if value else Path.home() / fallback


def cache_dir() -> Path:
    """Where thumbnails, the index cache and the correction journal live.

    ``TUI_TAGGER_CACHE_DIR`` overrides it (tests, shared machines with a small $HOME).
    """
    override = os.environ.get("TUI_TAGGER_CACHE_DIR")
    path = Path(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / APP
    return path


def config_dir() -> Path:
    """User keymaps, themes and settings. ``TUI_TAGGER_CONFIG_DIR`` overrides it."""
    override = os.environ.get("TUI_TAGGER_CONFIG_DIR")
    return Path(override) if override else _xdg("XDG_CONFIG_HOME", ".config") / APP


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


@dataclass
class Settings:
    # fsync every tag-file write: a process crash loses nothing without it, a power loss can.
    fsync: bool = True
    # the on-disk thumbnail cache is trimmed (oldest first) past this size
    thumbnail_cache_bytes: int = 512 * 1024 * 1024

    @classmethod
    def from_env(cls) -> "Settings":
        s = cls()
        s.fsync = env_flag("TUI_TAGGER_FSYNC", s.fsync)
        mb = os.environ.get("TUI_TAGGER_THUMB_CACHE_MB")
        if mb and mb.isdigit():
            s.thumbnail_cache_bytes = int(mb) * 1024 * 1024
        return s
