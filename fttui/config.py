"""Backend profiles: which server fttui talks to, and with what credentials.

A profile is a base URL plus credentials. Two exist without any file: `local`
(the server fttui ships, on http://127.0.0.1:8765/v1) and `openai`
(https://api.openai.com/v1). More live in `config_dir()/config.toml`:

    default = "local"

    [profiles.local]
    base_url = "http://127.0.0.1:8765/v1"
    data_dir = "~/fttui-data"

    [profiles.together]
    base_url = "https://api.together.xyz/v1"
    api_key_env = "TOGETHER_API_KEY"

Precedence (`resolve_profile`): explicit arguments (command-line flags) > the
environment > the profile's own settings > built-in defaults. Which profile:
`name` if given, else `OPENAI_BASE_URL` when set (an "env" profile), else the
file's `default`, else `local`. The key: the `api_key` argument, else the variable
the profile names in `api_key_env` (`OPENAI_API_KEY` for non-local profiles,
`FTTUI_API_KEY` for local ones, so an OpenAI key is never sent to a local server
by accident), else the profile's literal `api_key`. `OPENAI_ORG_ID` and
`OPENAI_PROJECT_ID` likewise beat the profile's `organization` / `project` for
non-local profiles.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from fttui.paths import config_dir

__all__ = [
    "BUILTIN_PROFILES",
    "LOCAL_URL",
    "OPENAI_URL",
    "ConfigError",
    "Profile",
    "config_path",
    "load_config",
    "TuiSettings",
    "resolve_profile",
    "tui_settings",
    "write_default_config",
]

Kind = Literal["local", "openai", "compatible"]
KINDS: tuple[Kind, ...] = ("local", "openai", "compatible")

LOCAL_URL = "http://127.0.0.1:8765/v1"
OPENAI_URL = "https://api.openai.com/v1"


class ConfigError(ValueError):
    """The config file or a profile setting is wrong; the message says where."""


@dataclass(frozen=True)
class Profile:
    """A resolved backend: URL, credentials, and for `local` its data directory."""

    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    project: str | None = None
    kind: Kind = "compatible"
    data_dir: Path | None = None
    api_key_env: str | None = None

    @property
    def label(self) -> str:
        """What the TUI header shows, e.g. `local · http://127.0.0.1:8765/v1`."""
        return f"{self.name} · {self.base_url}"


def _kind_for_url(url: str) -> Kind:
    return "openai" if (urlsplit(url).hostname or "").lower() == "api.openai.com" else "compatible"


BUILTIN_PROFILES: dict[str, Profile] = {
    "local": Profile(name="local", base_url=LOCAL_URL, kind="local", api_key_env="FTTUI_API_KEY"),
    "openai": Profile(
        name="openai", base_url=OPENAI_URL, kind="openai", api_key_env="OPENAI_API_KEY"
    ),
}

_PROFILE_KEYS = {
    "base_url",
    "api_key",
    "api_key_env",
    "organization",
    "project",
    "kind",
    "data_dir",
}


def config_path() -> Path:
    return config_dir() / "config.toml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file ({} when it does not exist); ConfigError names the problem."""
    path = path or config_path()
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ConfigError(f"{path}: 'default' must be a profile name (a string)")
    prices = data.get("prices", {})
    if not isinstance(prices, dict):
        raise ConfigError(f"{path}: 'prices' must be a table: [prices] (model = USD per 1M tokens)")
    for model, usd in prices.items():
        if isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0:
            raise ConfigError(
                f"{path}: [prices] {model} must be USD per 1M training tokens (a number >= 0), "
                f"got {usd!r}"
            )
    tui = data.get("tui", {})
    if not isinstance(tui, dict):
        raise ConfigError(f"{path}: 'tui' must be a table: [tui]")
    unknown_tui = sorted(set(tui) - set(_TUI_KEYS))
    if unknown_tui:
        raise ConfigError(
            f"{path}: [tui]: unknown key(s) {', '.join(unknown_tui)}; "
            f"allowed: {', '.join(sorted(_TUI_KEYS))}"
        )
    for key, kind in _TUI_KEYS.items():
        if key in tui and not isinstance(tui[key], kind):
            raise ConfigError(
                f"{path}: [tui] {key} must be {kind.__name__} (true or false), got {tui[key]!r}"
            )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    for name, table in profiles.items():
        where = f"{path}: [profiles.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(table) - _PROFILE_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(_PROFILE_KEYS))}"
            )
        for key, value in table.items():
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
        if "kind" in table and table["kind"] not in KINDS:
            raise ConfigError(
                f"{where}: kind must be one of {', '.join(KINDS)}, got {table['kind']!r}"
            )
        url = table.get("base_url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: base_url must start with http:// or https://, got {url!r}")
    return data


@dataclass(frozen=True)
class TuiSettings:
    """The app's own settings, from the config file's [tui] table."""

    #: Ring the bell and send a desktop notification when a watched job ends.
    notifications: bool = True
    #: The config's [prices]: model -> USD per 1M training tokens (over fttui's table).
    prices: dict[str, float] = field(default_factory=dict)


_TUI_KEYS: dict[str, type] = {"notifications": bool}


def tui_settings(path: Path | None = None) -> TuiSettings:
    """The [tui] settings (defaults for what the file does not say)."""
    data = load_config(path or config_path())
    tui = data.get("tui", {})
    prices = {str(k): float(v) for k, v in data.get("prices", {}).items()}
    return TuiSettings(**{k: v for k, v in tui.items() if k in _TUI_KEYS}, prices=prices)


def _profile_from_table(name: str, table: Mapping[str, str], path: Path) -> Profile:
    base = BUILTIN_PROFILES.get(name)
    url = table.get("base_url") or (base.base_url if base else None)
    if url is None:
        raise ConfigError(f"{path}: [profiles.{name}] needs a base_url")
    kind = cast(Kind, table.get("kind") or (base.kind if base else _kind_for_url(url)))
    default_env = "FTTUI_API_KEY" if kind == "local" else "OPENAI_API_KEY"
    data_dir = table.get("data_dir")
    return Profile(
        name=name,
        base_url=url,
        api_key=table.get("api_key"),
        organization=table.get("organization"),
        project=table.get("project"),
        kind=kind,
        data_dir=Path(data_dir).expanduser() if data_dir else None,
        api_key_env=table.get("api_key_env") or default_env,
    )


def profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every known profile by name: built-ins overlaid by the config file's."""
    path = path or config_path()
    data = load_config(path)
    found = dict(BUILTIN_PROFILES)
    for name, table in data.get("profiles", {}).items():
        found[name] = _profile_from_table(name, table, path)
    return found


def resolve_profile(
    name: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    path: Path | None = None,
) -> Profile:
    """The profile to use, from flags, environment, config file and defaults (see module doc)."""
    path = path or config_path()
    data = load_config(path)
    known = profiles(path)
    env_url = env.get("OPENAI_BASE_URL")
    if name is not None:
        if name not in known:
            raise ConfigError(
                f"unknown profile {name!r}; known profiles: {', '.join(sorted(known))} "
                f"(define more in {path})"
            )
        profile = known[name]
    elif env_url:
        if not env_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"OPENAI_BASE_URL must start with http:// or https://, got {env_url!r}"
            )
        profile = Profile(
            name="env", base_url=env_url, kind=_kind_for_url(env_url), api_key_env="OPENAI_API_KEY"
        )
    else:
        default = data.get("default", "local")
        if default not in known:
            raise ConfigError(
                f"{path}: default profile {default!r} is not defined; "
                f"known profiles: {', '.join(sorted(known))}"
            )
        profile = known[default]

    if base_url is not None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"--base-url must start with http:// or https://, got {base_url!r}")
        kind: Kind = profile.kind if name is not None else _kind_for_url(base_url)
        profile = replace(
            profile, base_url=base_url, kind=kind, name=profile.name if name else "custom"
        )

    key_env = profile.api_key_env or (
        "FTTUI_API_KEY" if profile.kind == "local" else "OPENAI_API_KEY"
    )
    key = api_key or env.get(key_env) or profile.api_key
    organization, project = profile.organization, profile.project
    if profile.kind != "local":
        organization = env.get("OPENAI_ORG_ID") or organization
        project = env.get("OPENAI_PROJECT_ID") or project
    # Sent as HTTP headers: httpx would raise deep inside the client (a traceback).
    for what, value in (
        ("the API key", key),
        ("organization", organization),
        ("project", project),
    ):
        if value and not (value.isascii() and value.isprintable()):
            raise ConfigError(
                f"{what} of profile {profile.name!r} must be printable ASCII "
                "(it is sent in an HTTP header)"
            )
    directory = Path(data_dir).expanduser() if data_dir is not None else profile.data_dir
    return replace(
        profile,
        api_key=key or None,
        organization=organization,
        project=project,
        data_dir=directory,
        base_url=profile.base_url.rstrip("/"),
    )


_DEFAULT_CONFIG = f"""\
# fttui configuration: which backend to talk to.
# Pick one with `fttui --profile NAME`; this one is used when none is named.
default = "local"

# The local fine-tuning server fttui ships (started automatically when needed).
[profiles.local]
base_url = "{LOCAL_URL}"
# data_dir = "~/fttui-data"        # default: $FTTUI_DATA_DIR or the platform's data dir

# OpenAI itself; the key is read from the environment variable named here.
[profiles.openai]
base_url = "{OPENAI_URL}"
api_key_env = "OPENAI_API_KEY"
# organization = "org-..."
# project = "proj_..."

# Any OpenAI-compatible server:
# [profiles.myserver]
# base_url = "https://llm.example.com/v1"
# api_key_env = "MYSERVER_API_KEY"   # or: api_key = "..." (kept in this file in clear)

# The terminal app.
[tui]
# Ring the bell and send a desktop notification (OSC 9 / OSC 777) when a job
# the app watched ends; the command palette turns it off for a session.
notifications = true
"""


def write_default_config(path: Path | None = None) -> Path:
    """Create a commented config file if none exists (never overwrites); returns its path."""
    path = path or config_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_DEFAULT_CONFIG, encoding="utf-8")
    return path
