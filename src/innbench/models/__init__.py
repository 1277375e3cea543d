"""Registered models. A new model is a new module plus one line in ``_REGISTRY``."""

from __future__ import annotations

from .autoencoder import Autoencoder
from .base import Model, ModelFacts, ModelLoadError, load_model
from .cinn import ConditionalINN
from .cvae import ConditionalVAE
from .inn import INN
from .mdn import MDN

__all__ = [
    "Autoencoder",
    "MDN",
    "ConditionalVAE",
    "INN",
    "ConditionalINN",
    "Model",
    "ModelFacts",
    "ModelLoadError",
    "build_model",
    "get_model_class",
    "list_models",
    "load_model",
    "register_model",
]

_REGISTRY: dict[str, type[Model]] = {"cinn": ConditionalINN, "inn": INN, "mdn": MDN, "cvae": ConditionalVAE,
                                    "autoencoder": Autoencoder}


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
    return sorted(_REGISTRY)


def build_model(name: str, problem, **config) -> Model:
    return get_model_class(name)(problem, **config)
