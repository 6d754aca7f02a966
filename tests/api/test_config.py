"""Profiles: built-ins, the config file, and flag > environment > profile precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from fttui.api import Client
from fttui.config import ConfigError, resolve_profile, tui_settings, write_default_config


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return tmp_path / "config.toml"


def test_no_config_no_env_gives_the_local_server(cfg: Path) -> None:
    p = resolve_profile(env={}, path=cfg)
    assert (p.name, p.kind, p.base_url, p.api_key) == (
        "local",
        "local",
        "http://127.0.0.1:8765/v1",
        None,
    )
    assert p.label == "local · http://127.0.0.1:8765/v1"


def test_openai_builtin_takes_key_org_project_from_env(cfg: Path) -> None:
    env = {"OPENAI_API_KEY": "sk-env", "OPENAI_ORG_ID": "org-1", "OPENAI_PROJECT_ID": "proj_1"}
    p = resolve_profile("openai", env=env, path=cfg)
    assert (p.kind, p.base_url) == ("openai", "https://api.openai.com/v1")
    assert (p.api_key, p.organization, p.project) == ("sk-env", "org-1", "proj_1")
    assert "sk-env" not in repr(p)


def test_openai_key_is_not_sent_to_the_local_server(cfg: Path) -> None:
    p = resolve_profile(env={"OPENAI_API_KEY": "sk-env", "FTTUI_API_KEY": "local-key"}, path=cfg)
    assert (p.name, p.api_key) == ("local", "local-key")


def test_openai_base_url_env_selects_a_compatible_backend(cfg: Path) -> None:
    env = {"OPENAI_BASE_URL": "https://llm.example.com/v1/", "OPENAI_API_KEY": "k"}
    p = resolve_profile(env=env, path=cfg)
    assert (p.kind, p.base_url, p.api_key) == ("compatible", "https://llm.example.com/v1", "k")


def test_bad_openai_base_url_env_is_named(cfg: Path) -> None:
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL must start with http"):
        resolve_profile(env={"OPENAI_BASE_URL": "llm.example.com"}, path=cfg)


def test_flags_beat_env_and_env_beats_the_profile_file(cfg: Path) -> None:
    cfg.write_text(
        'default = "mine"\n'
        "[profiles.mine]\n"
        'base_url = "https://mine.example/v1"\n'
        'api_key = "from-file"\n'
        'organization = "org-file"\n',
        encoding="utf-8",
    )
    assert resolve_profile(env={}, path=cfg).api_key == "from-file"
    from_env = resolve_profile(
        env={"OPENAI_API_KEY": "from-env", "OPENAI_ORG_ID": "org-env"}, path=cfg
    )
    assert (from_env.name, from_env.api_key, from_env.organization) == (
        "mine",
        "from-env",
        "org-env",
    )
    flagged = resolve_profile(
        "mine", base_url="http://127.0.0.1:9/v1", api_key="from-flag",
        env={"OPENAI_API_KEY": "from-env", "OPENAI_BASE_URL": "https://env.example/v1"}, path=cfg,
    )  # fmt: skip
    assert (flagged.base_url, flagged.api_key) == ("http://127.0.0.1:9/v1", "from-flag")


def test_api_key_env_names_the_variable(cfg: Path) -> None:
    cfg.write_text(
        '[profiles.together]\nbase_url = "https://api.together.xyz/v1"\napi_key_env = "TOG_KEY"\n',
        encoding="utf-8",
    )
    p = resolve_profile("together", env={"TOG_KEY": "t-1", "OPENAI_API_KEY": "sk"}, path=cfg)
    assert (p.kind, p.api_key) == ("compatible", "t-1")


def test_local_profile_data_dir_from_file_and_flag(cfg: Path, tmp_path: Path) -> None:
    cfg.write_text('[profiles.local]\ndata_dir = "/srv/fttui"\n', encoding="utf-8")
    assert resolve_profile(env={}, path=cfg).data_dir == Path("/srv/fttui")
    assert resolve_profile(env={}, path=cfg, data_dir=tmp_path).data_dir == tmp_path


def test_bad_toml_names_file_and_line(cfg: Path) -> None:
    cfg.write_text('default = "local"\n[profiles.x]\nbase_url = \n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml.*line 3"):
        resolve_profile(env={}, path=cfg)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[profiles.x]\nbase_url = "ftp://x"\n', r"\[profiles\.x\]: base_url must start with http"),
        (
            '[profiles.x]\nbase_url = "http://x"\ntoken = "a"\n',
            r"\[profiles\.x\]: unknown key\(s\) token",
        ),
        ('[profiles.x]\nbase_url = "http://x"\nkind = "cloud"\n', r"kind must be one of"),
        ('[profiles.x]\napi_key = "a"\n', r"\[profiles\.x\] needs a base_url"),
        ('default = "nope"\n', r"default profile 'nope' is not defined"),
    ],
)
def test_bad_profiles_are_named(cfg: Path, body: str, expected: str) -> None:
    cfg.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        resolve_profile(env={}, path=cfg)


def test_unknown_profile_lists_known_ones(cfg: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'prod'.*local, openai"):
        resolve_profile("prod", env={}, path=cfg)


def test_default_config_is_written_once_and_parses(cfg: Path) -> None:
    assert write_default_config(cfg) == cfg
    text = cfg.read_text(encoding="utf-8")
    p = resolve_profile(env={}, path=cfg)
    assert (p.name, p.base_url) == ("local", "http://127.0.0.1:8765/v1")
    assert resolve_profile("openai", env={}, path=cfg).kind == "openai"
    cfg.write_text(text + '\n[profiles.extra]\nbase_url = "http://e/v1"\n', encoding="utf-8")
    write_default_config(cfg)  # never overwrites the user's edits
    assert "profiles.extra" in cfg.read_text(encoding="utf-8")


def test_tui_notifications_setting(cfg: Path) -> None:
    assert tui_settings(cfg).notifications is True  # no file: on
    write_default_config(cfg)
    assert tui_settings(cfg).notifications is True  # the written default says so
    cfg.write_text("[tui]\nnotifications = false\n", encoding="utf-8")
    assert tui_settings(cfg).notifications is False
    cfg.write_text('[tui]\nnotifications = "no"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tui\] notifications must be bool.*got 'no'"):
        tui_settings(cfg)
    cfg.write_text("[tui]\nnotification = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[tui\]: unknown key\(s\) notification; allowed"):
        tui_settings(cfg)


async def test_client_from_profile_uses_its_name_and_kind(cfg: Path) -> None:
    p = resolve_profile("openai", env={"OPENAI_API_KEY": "sk-x"}, path=cfg)
    async with Client.from_profile(p) as client:
        assert (client.label, client.kind) == ("openai · https://api.openai.com/v1", "openai")
        assert "sk-x" not in repr(client)
