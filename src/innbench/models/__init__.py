"""Registered models. A new built-in model is a new module plus one line in :data:`BUILT_IN`; a user's
model is registered with :func:`register_model` from any module (``--imports``)."""

from __future__ import annotations

import importlib

from .base import Model, ModelFacts, ModelLoadError
from .estimator import Estimator
from .registry import build_model, get_model_class, list_models, load_model, register_model

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
    "score_based:ScoreBased",
    "consistency:Consistency",
    "latent_mixture:LatentMixtureINN",
    "rejection_abc:RejectionABC",
    "likelihood_mcmc:LikelihoodMCMC",
    "nle:NeuralLikelihood",
    "nre:ContrastiveRatio",
    "nre:BalancedRatio",
    "sequential:TruncatedSNPE",
    "sequential:SequentialNLE",
)

for _entry in BUILT_IN:
    _module, _cls = _entry.split(":")
    register_model(getattr(importlib.import_module(f".{_module}", __name__), _cls))
del _entry, _module, _cls
