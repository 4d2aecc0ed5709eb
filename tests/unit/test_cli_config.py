"""Where the ``eraser`` command sends its requests: flags over the environment over the default profile, a profile
named with --profile over the environment, --local from the local stack's state file. The key is never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eraser_cli import config

PROFILES = """\
default_profile = "dev"

[profiles.dev]
url = "https://dev.example.test/dev/"
api_key = "erk_dev_SECRET"
organization = "acme"

[profiles.prod]
url = "https://prod.example.test/prod"
api_key_env = "ERASER_PROD_KEY"
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(PROFILES, encoding="utf-8")
    return path


def resolve(environ: dict[str, str], **flags: object) -> config.Settings:
    arguments: dict[str, object] = {"url": None, "api_key": None, "local": False, "profile": None, **flags}
    return config.resolve(environ=environ, **arguments)  # type: ignore[arg-type]


def secret(settings: config.Settings) -> str | None:
    return settings.api_key.reveal() if settings.api_key else None


def test_the_default_profile_is_used_when_nothing_else_is_given(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file)})

    assert settings.url == "https://dev.example.test/dev"
    assert secret(settings) == "erk_dev_SECRET"
    assert settings.organization == "acme"
    assert settings.source == "profile dev"


def test_the_environment_beats_the_default_profile(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file), "ERASER_URL": "http://env.test",
                        "ERASER_API_KEY": "erk_env"})

    assert (settings.url, secret(settings)) == ("http://env.test", "erk_env")


def test_flags_beat_the_environment_and_the_profile(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file), "ERASER_URL": "http://env.test",
                        "ERASER_API_KEY": "erk_env"}, url="http://flag.test", api_key="erk_flag")

    assert (settings.url, secret(settings)) == ("http://flag.test", "erk_flag")


def test_a_profile_named_on_the_command_line_beats_a_stale_environment(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file), "ERASER_URL": "http://env.test",
                        "ERASER_PROD_KEY": "erk_prod"}, profile="prod")

    assert (settings.url, secret(settings)) == ("https://prod.example.test/prod", "erk_prod")


def test_eraser_profile_chooses_the_default_profile(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file), "ERASER_PROFILE": "prod", "ERASER_PROD_KEY": "k"})

    assert settings.url == "https://prod.example.test/prod"


def test_xdg_config_home_holds_the_profile_file(tmp_path):
    (tmp_path / "eraser").mkdir()
    (tmp_path / "eraser" / "config.toml").write_text(PROFILES, encoding="utf-8")

    assert resolve({"XDG_CONFIG_HOME": str(tmp_path)}).url == "https://dev.example.test/dev"


def test_the_home_config_file_is_the_default_place(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".config" / "eraser").mkdir(parents=True)
    (tmp_path / ".config" / "eraser" / "config.toml").write_text(PROFILES, encoding="utf-8")

    assert resolve({}).url == "https://dev.example.test/dev"


def test_local_reads_the_local_stacks_state_file(tmp_path, profile_file):
    state = tmp_path / "local.json"
    state.write_text(json.dumps({"url": "http://127.0.0.1:3999", "api_key": "erk_local",
                                 "organization_id": "org-1"}), encoding="utf-8")

    settings = resolve({"ERASER_CONFIG": str(profile_file), "ERASER_LOCAL_STATE": str(state),
                        "ERASER_URL": "http://env.test"}, local=True)

    assert (settings.url, secret(settings), settings.organization_id) == ("http://127.0.0.1:3999", "erk_local",
                                                                           "org-1")


def test_local_finds_the_nearest_state_file_upwards(tmp_path, monkeypatch):
    (tmp_path / ".eraser").mkdir()
    (tmp_path / ".eraser" / "local.json").write_text(json.dumps({"url": "http://127.0.0.1:3998", "api_key": "k"}),
                                                    encoding="utf-8")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")

    assert resolve({}, local=True).url == "http://127.0.0.1:3998"


def test_local_without_a_running_stack_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    with pytest.raises(config.ConfigError, match="is `make run` running"):
        resolve({}, local=True)


def test_local_and_profile_together_are_a_usage_error(profile_file):
    with pytest.raises(config.ConfigError, match="give one"):
        resolve({"ERASER_CONFIG": str(profile_file)}, local=True, profile="dev")


def test_an_unreadable_profile_file_is_a_usage_error_that_does_not_show_its_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('api_key = "erk_broken_SECRET"\n[profiles\n', encoding="utf-8")

    with pytest.raises(config.ConfigError) as raised:
        resolve({"ERASER_CONFIG": str(path)})
    assert "erk_broken_SECRET" not in str(raised.value)


def test_the_key_is_hidden_in_every_representation(profile_file):
    settings = resolve({"ERASER_CONFIG": str(profile_file)})

    assert "erk_dev_SECRET" not in repr(settings) and "erk_dev_SECRET" not in str(settings)
