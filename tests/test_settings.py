"""Typed settings (innbench.models.settings): every option of every model is a typed, documented field, and a
bad value is refused by name wherever it comes from."""

import dataclasses
import re

import pytest

from innbench.models import build_model, get_model_class, list_models
from innbench.models.settings import ConditionalSettings, ModelSettings, YSupervisedSettings


def _documented(doc: str) -> set[str]:
    """The names an ``Args:`` / ``Arguments:`` section of a docstring documents."""
    names, inside = set(), False
    for line in (doc or "").splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:"):
            inside = True
            continue
        if inside and stripped and not line.startswith(" " * 8) and stripped.endswith(":"):
            inside = False
        m = re.match(r"^ {8}(\*\*)?([a-z_][a-z0-9_]*(?:, [a-z_][a-z0-9_]*)*):", line)
        if inside and m:
            names.update(n.strip() for n in m.group(2).split(","))
    return names


SHARED = {cls: _documented(cls.__doc__) for cls in (ModelSettings, ConditionalSettings, YSupervisedSettings)}


@pytest.mark.parametrize("name", list_models())
def test_every_setting_is_a_typed_field_with_a_docstring_entry(name):
    cls = get_model_class(name)
    settings = cls.Settings
    assert dataclasses.is_dataclass(settings) and settings.__dataclass_params__.frozen
    own = _documented(cls.__doc__)
    for f in dataclasses.fields(settings):
        assert f.type not in (None, "Any") or f.name == "summary", f"{name}.{f.name} has no type"
        shared = any(f.name in docs for base, docs in SHARED.items() if issubclass(settings, base))
        assert f.name in own or shared, f"model {name!r}: option {f.name!r} is not in the class docstring's Args"
    assert cls.known_options() == {f.name: f.default for f in dataclasses.fields(settings)}


@pytest.mark.parametrize("option, value, message", [
    ("blocks", 0, "blocks: expected a positive integer, got 0"),
    ("blocks", "4", "blocks: expected a positive integer, got '4' (str)"),
    ("clamp", 0.0, "clamp: expected a number > 0, got 0.0"),
    ("activation", "swish", "activation: unknown name 'swish'"),
    ("y_noise_final", -0.1, "y_noise_final: expected a number >= 0"),
    ("noise_conditioned", 1, "noise_conditioned: expected true or false, got 1"),
    ("bounded_transform", "probit", "bounded_transform: expected 'logit', got 'probit'"),
    ("hidden", 10**9, "hidden: expected at most 65,536, got 1,000,000,000"),
])
def test_a_bad_value_is_refused_naming_the_field(option, value, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        build_model("cinn", "kinematics", **{option: value})


def test_the_cli_set_names_the_field(tmp_path, capsys):
    from innbench.cli import main

    rc = main(["train", "--problem", "two_moons", "--model", "cinn", "--simulations", "100", "--set", "clamp=0",
               "--out", str(tmp_path / "m"), "--quiet"])
    assert rc == 2
    assert "clamp: expected a number > 0" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_settings_are_frozen_and_sampling_options_change_through_configure():
    m = build_model("cinn", "kinematics", blocks=2, hidden=16, noise_conditioned=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.settings.blocks = 3
    with pytest.raises(TypeError):
        m.config["blocks"] = 3  # a read-only view of the settings
    m.configure(y_noise_sample=0.005)
    assert m.settings.y_noise_sample == 0.005 == m.config["y_noise_sample"]
    assert m.condition_noise.sample_level == 0.005
    with pytest.raises(ValueError, match="^blocks: cannot change after model 'cinn' is built"):
        m.configure(blocks=3)
    with pytest.raises(ValueError, match="^y_noise_sample: expected a number >= 0"):
        m.configure(y_noise_sample=-1.0)


def test_a_model_with_only_a_defaults_dict_gets_typed_settings():
    """A user's model (or a variant of a built-in one) may give ``defaults`` as a dict: its settings are made
    from it, typed by the defaults, on its parent's settings."""
    from innbench.models import register_model
    from innbench.models.cinn import ConditionalINN

    class Small(ConditionalINN):
        name = "small_cinn_settings_test"
        defaults = {**ConditionalINN.defaults, "blocks": 4, "hidden": 32, "my_weight": 0.5}

    assert issubclass(Small.Settings, ConditionalINN.Settings)
    assert Small.Settings().blocks == 4 and Small.Settings().my_weight == 0.5
    with pytest.raises(ValueError, match="^my_weight: expected a number >= 0"):
        Small.Settings(my_weight=-1.0)
    with pytest.raises(ValueError, match="^hidden: expected a positive integer"):
        Small.Settings(hidden=0)
    assert register_model  # (registering is not needed to build it)
    assert Small("kinematics").settings.hidden == 32
