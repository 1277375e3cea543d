"""The model registry: names to :class:`~innbench.models.base.Model` classes, and building and loading models by
name (:func:`build_model`, :func:`load_model`). The built-in models register themselves when
:mod:`innbench.models` is imported (:data:`innbench.models.BUILT_IN`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from ..params import REMOVED_OPTIONS
from ..problems import get_problem
from .base import Model, ModelLoadError
from .ensemble import PosteriorEnsemble, build_ensemble
from .estimator import Estimator

__all__ = ["build_model", "construct", "get_model_class", "list_models", "load_model", "register_model"]

_REGISTRY: dict[str, type[Model]] = {}


def register_model(cls: type[Model], overwrite: bool = False) -> type[Model]:
    """Register a :class:`Model` subclass under ``cls.name`` (usable as a decorator).

    A registered model can be named everywhere a model is expected: :func:`build_model`, ``api.train``,
    grid files and the CLI (``--imports my_module`` imports the module that registers it). Check it with
    :func:`innbench.checks.check_model`.

    Args:
        cls: the :class:`Model` subclass (with ``name``, ``title``, ``facts`` and ``defaults``).
        overwrite: replace a model already registered under that name (otherwise a ``ValueError``).

    Returns:
        ``cls``, unchanged.

    Example:
        A variant of a built-in model under a name of its own:

        >>> from innbench.models import build_model, register_model
        >>> from innbench.models.cinn import ConditionalINN
        >>> @register_model
        ... class SmallCINN(ConditionalINN):
        ...     name = "small_cinn"
        ...     title = "small conditional INN"
        ...     defaults = {**ConditionalINN.defaults, "blocks": 4, "hidden": 32}
        >>> build_model("small_cinn", "kinematics").config["blocks"]
        4
    """
    if cls.name in _REGISTRY and not overwrite:
        raise ValueError(f"model {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def get_model_class(name: str) -> type[Model]:
    """The model class registered under ``name``.

    Args:
        name: a registered model name (:func:`list_models`); an unknown one raises a ``KeyError`` that
            lists the registered ones.

    Returns:
        The :class:`Model` subclass, whose class attributes say what it is (``title``, ``facts``,
        ``defaults``, ``conditional``, ``amortized``, ...).

    Example:
        >>> from innbench.models import get_model_class
        >>> cls = get_model_class("cinn")
        >>> cls.title, cls.facts.density, cls.defaults["blocks"]
        ('conditional INN', True, 10)
    """
    if name not in _REGISTRY:
        raise KeyError(f"model: unknown name {name!r}; registered models are {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_models() -> list[str]:
    """Registered model names: the paper's ten in its tables' order, then the ones beyond the paper.

    Example:
        >>> from innbench.models import list_models
        >>> list_models()[:4]
        ['inn', 'inn_mmd', 'cinn', 'iaf']
        >>> "flow_matching" in list_models()
        True
    """
    return list(_REGISTRY)


def build_model(name: str, problem, **config) -> Estimator:
    """A new, untrained model ``name`` for ``problem``.

    Train it with :func:`innbench.training.fit` or :func:`innbench.simbudget.fit_simulations` (or build
    and train in one call with :func:`innbench.api.train`).

    Args:
        name: a registered model name (:func:`list_models`).
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        **config: the model's options (the class's ``defaults`` and the options all models share, see
            :meth:`Model.known_options`); unknown or invalid options raise a ``ValueError`` naming them.
            ``seed`` fixes the initial weights.

    Returns:
        The :class:`Model` (a ``torch.nn.Module``); with ``members=K > 1`` a
        :class:`innbench.models.ensemble.PosteriorEnsemble` of K of them (seeds ``seed .. seed + K - 1``).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("cinn", "kinematics", blocks=4, hidden=64, seed=1)
        >>> model.name, model.config["blocks"], model.dim_z()
        ('cinn', 4, 4)
        >>> model.n_parameters() > 10_000
        True
    """
    return construct(get_model_class(name), problem, config)


def construct(cls: type[Model], problem, config: dict) -> Estimator:
    """An untrained model of class ``cls``, or an ensemble of them where the config says ``members=K > 1``."""
    k = config.get("members", 1)
    if "members" in cls.defaults and isinstance(k, int) and not isinstance(k, bool) and k > 1:
        return build_ensemble(cls, problem, **config)
    return cls(problem, **config)


def load_model(path, device: str = "cpu", summary: nn.Module | None = None) -> Estimator:
    """Load a model directory written by :meth:`Model.save` (weights with ``weights_only=True``).

    A model trained with a summary network of the user's own needs a fresh instance of it as ``summary``
    (its weights are loaded from the directory).

    Args:
        path: the model directory.
        device: where to put the model (``cpu``, ``cuda``, ``cuda:N``).
        summary: a fresh instance of the user's summary network, for a model trained with one.

    Returns:
        The :class:`Model`, in evaluation mode, with its ``train_info``.

    Raises:
        ModelLoadError: the directory is missing, incomplete or corrupt, or the model was trained on another
            version of its problem.

    Example:
        >>> import tempfile
        >>> from innbench.models import build_model, load_model
        >>> model = build_model("cinn", "linear", blocks=2, seed=4)
        >>> again = load_model(model.save(tempfile.mkdtemp() + "/cinn"))
        >>> again.config == model.config, again.training
        (True, False)
    """
    path = Path(path)
    cfg_file, w_file = path / "config.json", path / "weights.pt"
    if not path.is_dir():
        raise ModelLoadError(f"model_path: {str(path)!r} is not a directory (expected one written by 'innbench train')")
    for f in (cfg_file, w_file):
        if not f.exists():
            raise ModelLoadError(f"model_path: {str(path)!r} has no {f.name} (expected config.json and weights.pt)")
    try:
        cfg = json.loads(cfg_file.read_text())
        name, problem_name, config = cfg["model"], cfg["problem"], cfg["config"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"model_path: {cfg_file} is corrupt ({type(exc).__name__}: {exc})") from None
    if not (isinstance(name, str) and isinstance(problem_name, str) and isinstance(config, dict)):
        raise ModelLoadError(f"model_path: {cfg_file} is corrupt (expected strings 'model' and 'problem' and a "
                             f"table 'config', got {name!r}, {problem_name!r}, {type(config).__name__})")
    cls = get_model_class(name)
    problem = get_problem(problem_name)
    saved_version = cfg.get("problem_version")
    if saved_version is not None and saved_version != problem.version:
        raise ModelLoadError(f"model_path: {str(path)!r} was trained on version {saved_version} of problem "
                             f"{problem.name!r}; this innbench has version {problem.version} (its simulator or "
                             "prior changed): train the model again")
    if cfg.get("innbench_version") not in (None, __version__):
        warnings.warn(f"model_path: {str(path)!r} was saved by innbench {cfg['innbench_version']} (this is "
                      f"{__version__}); it loads, but its numbers may differ from a model trained now",
                      stacklevel=2)
    config = dict(config)
    for key, (default, why) in REMOVED_OPTIONS.items():  # options innbench removed: at their default, dropped
        if key in config and (value := config.pop(key)) != default:
            raise ModelLoadError(f"model_path: {str(path)!r} was trained with {key}={value!r}, an option {why}; "
                                 "train the model again without it")
    config = {"bounded_transform": None, **config}  # saved before the option existed: trained without it
    if cls.conditional:  # likewise (innbench 0.2.0 before the set summary's moment features)
        config = {"summary_moments": False, **config}
    if summary is not None:
        if not (isinstance(config.get("summary"), str) and config["summary"].startswith("custom:")):
            raise ModelLoadError(f"summary: {str(path)!r} was trained with the built-in summary "
                                 f"{config.get('summary', 'auto')!r}; load it without summary=")
        config["summary"] = summary
    weights = cfg.get("weights")
    try:
        model = construct(cls, problem, config)
        if weights is not None:
            if not isinstance(model, PosteriorEnsemble):
                raise ValueError(f"weights: a single model has no mixture weights, got {weights!r}")
            model = PosteriorEnsemble(list(model.members), weights)
            model.config["seed"] = config.get("seed")
    except ValueError as exc:
        raise ModelLoadError(f"model_path: {cfg_file} holds an invalid model configuration ({exc})") from None
    try:
        state = torch.load(w_file, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # truncated, not a torch file, wrong architecture
        raise ModelLoadError(f"model_path: {w_file} could not be loaded ({type(exc).__name__}: {exc})") from None
    model.train_info = cfg.get("train_info", {})
    return model.to(device).eval()
