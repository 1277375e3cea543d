"""Registered models. A new model is a new module plus one line in ``_REGISTRY``."""

from __future__ import annotations

from .autoencoder import Autoencoder
from .base import Model, ModelFacts, ModelLoadError, load_model
from .cinn import ConditionalINN
from .cvae import ConditionalVAE
from .flow_matching import FlowMatching
from .flows import IAFDecoder, MAFDecoder, NeuralSplineFlow
from .inn import INN
from .inn_mmd import INNMMD
from .invauto import InvertibleAutoencoder
from .iresnet import InvertibleResNet
from .mdn import MDN
from .rejection_abc import RejectionABC

__all__ = [
    "INN",
    "INNMMD",
    "MDN",
    "Autoencoder",
    "ConditionalINN",
    "ConditionalVAE",
    "FlowMatching",
    "IAFDecoder",
    "InvertibleAutoencoder",
    "InvertibleResNet",
    "MAFDecoder",
    "Model",
    "ModelFacts",
    "ModelLoadError",
    "NeuralSplineFlow",
    "RejectionABC",
    "build_model",
    "get_model_class",
    "list_models",
    "load_model",
    "register_model",
]

#: in the order of the paper's tables, then the models beyond the paper
_REGISTRY: dict[str, type[Model]] = {
    "inn": INN,
    "inn_mmd": INNMMD,
    "cinn": ConditionalINN,
    "iaf": IAFDecoder,
    "maf": MAFDecoder,
    "iresnet": InvertibleResNet,
    "invauto": InvertibleAutoencoder,
    "autoencoder": Autoencoder,
    "cvae": ConditionalVAE,
    "mdn": MDN,
    "nsf": NeuralSplineFlow,
    "flow_matching": FlowMatching,
    "rejection_abc": RejectionABC,
}


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
