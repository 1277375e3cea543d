"""Registered models. A new built-in model is a new module plus one line in :data:`BUILT_IN`; a user's
model is registered with :func:`register_model` from any module (``--imports``)."""

from __future__ import annotations

import importlib

from .base import Model, ModelFacts, ModelLoadError, _construct, load_model
from .estimator import Estimator

__all__ = ["Estimator", "Model", "ModelFacts", "ModelLoadError", "build_model", "get_model_class", "list_models",
           "load_model", "register_model"]

#: the built-in models as ``module:Class``, in the order of the paper's tables, then the models beyond the
#: paper; each registers under its class's ``name``
BUILT_IN = (
    "inn:INN",
    "inn_mmd:INNMMD",
    "cinn:ConditionalINN",
    "flows:IAFDecoder",
    "flows:MAFDecoder",
    "iresnet:InvertibleResNet",
    "invauto:InvertibleAutoencoder",
    "autoencoder:Autoencoder",
    "cvae:ConditionalVAE",
    "mdn:MDN",
    "flows:NeuralSplineFlow",
    "flow_matching:FlowMatching",
    "latent_mixture:LatentMixtureINN",
    "rejection_abc:RejectionABC",
    "likelihood_mcmc:LikelihoodMCMC",
    "nle:NeuralLikelihood",
)

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
    return _construct(get_model_class(name), problem, config)


for _entry in BUILT_IN:
    _module, _cls = _entry.split(":")
    register_model(getattr(importlib.import_module(f".{_module}", __name__), _cls))
del _entry, _module, _cls
