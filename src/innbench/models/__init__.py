"""Registered models. A new built-in model is a new module plus one line in :data:`BUILT_IN`; a user's
model is registered with :func:`register_model` from any module (``--imports``)."""

from __future__ import annotations

import importlib

from .base import Model, ModelFacts, ModelLoadError, load_model

__all__ = ["Model", "ModelFacts", "ModelLoadError", "build_model", "get_model_class", "list_models", "load_model",
           "register_model"]

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
    """Register a :class:`Model` subclass under ``cls.name`` (usable as a decorator)."""
    if cls.name in _REGISTRY and not overwrite:
        raise ValueError(f"model {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def get_model_class(name: str) -> type[Model]:
    if name not in _REGISTRY:
        raise KeyError(f"model: unknown name {name!r}; registered models are {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def list_models() -> list[str]:
    """Registered model names: the paper's ten in its tables' order, then the ones beyond the paper."""
    return list(_REGISTRY)


def build_model(name: str, problem, **config) -> Model:
    return get_model_class(name)(problem, **config)


for _entry in BUILT_IN:
    _module, _cls = _entry.split(":")
    register_model(getattr(importlib.import_module(f".{_module}", __name__), _cls))
del _entry, _module, _cls
