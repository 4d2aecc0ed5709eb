"""Every setting comes from one validated model, read from the environment variables template.yaml sets."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from eraser import config
from eraser.config import Settings, from_environment
from tests.support import load_template


def environment_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names |= environment_names(section, getattr(section, "environment_prefix", ""))
        else:
            names.add(prefix + name.upper())
    return names


def test_every_variable_the_template_gives_the_functions_is_a_setting():
    template = load_template()
    variables = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables |= set(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables", {}))
    # Powertools reads its own variables.
    ours = {name for name in variables if not name.startswith("POWERTOOLS_")}
    assert ours <= environment_names(Settings)


def test_sections_read_their_own_variables_and_empty_ones_mean_the_default():
    settings = from_environment(Settings, {"TASKS_TABLE": "tasks", "CHUNK_SIZE": "7", "RATE_LIMIT_PURGE_BUCKET": "3",
                                           "STAGE": ""})
    assert (settings.tasks_table, settings.engine.chunk_size, settings.rate_limits.purge_bucket) == ("tasks", 7, 3)
    assert settings.stage == "local"


@pytest.mark.parametrize("name, value", [("CHUNK_SIZE", "1001"), ("TASK_RETENTION_DAYS", "7"),
                                         ("RATE_LIMIT_DELETE_BUCKET", "0"), ("PURGE_WAIT_SECONDS", "soon")])
def test_an_invalid_value_is_refused(name, value):
    with pytest.raises(ValueError):
        from_environment(Settings, {name: value})


def test_settings_are_parsed_once_until_the_cache_is_cleared(monkeypatch):
    config.settings.cache_clear()
    monkeypatch.setenv("CHUNK_SIZE", "9")
    first = config.settings()
    monkeypatch.setenv("CHUNK_SIZE", "8")
    assert config.settings() is first and config.engine_settings().chunk_size == 9
    config.settings.cache_clear()
    assert config.engine_settings().chunk_size == 8
    monkeypatch.delenv("CHUNK_SIZE")
    config.settings.cache_clear()
