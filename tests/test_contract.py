"""The contract kit (innbench.checks) over every registered model and problem, and that it catches breaches."""

import numpy as np
import pytest

from innbench.checks import ContractError, check_model, check_problem
from innbench.models import get_model_class, list_models
from innbench.problems import list_problems


@pytest.mark.parametrize("problem", list_problems())
def test_every_registered_problem_passes_the_contract(problem):
    # the MCMC references of the ODE problems take minutes: a short chain suffices for what the contract checks
    # (shapes, finiteness, support; tests/test_epidemic.py and tests/test_ode_tasks.py check the chains
    # themselves). The other problems' samplers take a second or two as they are.
    short = {"burn": 100, "pilot": 100, "init_draws": 2000, "rhat_max": None, "max_thin": 2}
    short = short if problem in ("epidemic", "sir") else None
    if problem == "lotka_volterra":  # its walkers start far from the narrow posterior: a longer burn-in
        short = {"burn": 300, "pilot": 100, "init_draws": 2000, "rhat_max": None, "max_thin": 4}
    done = check_problem(problem, reference_options=short)
    assert {"dimensions", "simulate", "support", "validate_observations"} <= set(done)


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_passes_the_contract(name):
    # the MCMC baseline needs a likelihood, NLE a prior density and a stochastic simulator: kinematics has neither
    cls = get_model_class(name)
    per_query_mcmc = cls.requires_likelihood or cls.requires_prior_density
    short = {"burn": 50, "pilot": 50, "init_draws": 500, "max_thin": 1} if cls.requires_prior_density else None
    if cls.sequential:  # every query trains again: one later round of two epochs, one transform, a small sample
        short = {**(short or {}), "rounds": 2, "round_epochs": 2, "transforms": 1,
                 **({"support_draws": 2000} if "support_draws" in cls.defaults else {})}
    done = check_model(name, "two_moons" if per_query_mcmc else "kinematics", options=short)
    assert {"declarations", "construction", "training", "parts", "sample", "save/load", "bad observations"} <= set(done)
    assert ("density" in done) == get_model_class(name).facts.density


def test_the_contract_catches_a_sampler_that_ignores_its_seed():
    base = get_model_class("cvae")

    class Unseeded(base):
        name = "unseeded_cvae"

        def sample_standardized(self, y, n, generator):
            return super().sample_standardized(y, n, None)  # the global RNG: not reproducible

    with pytest.raises(ContractError, match="sample: not deterministic for a seed"):
        check_model(Unseeded, "kinematics")


def test_the_contract_catches_a_model_that_does_not_learn():
    base = get_model_class("mdn")

    class Frozen(base):
        name = "frozen_mdn"

        def loss(self, x, y):
            loss, parts = super().loss(x, y)
            return loss * 0.0, parts

    with pytest.raises(ContractError, match="training: the loss did not go down"):
        check_model(Frozen, "kinematics", n_batches=20)


def test_the_contract_catches_a_problem_that_accepts_nan_observations():
    from innbench.problems import get_problem

    p = get_problem("linear")

    class Careless(type(p)):
        name = "careless_linear"

        def validate_observations(self, y, name="observations"):
            return np.asarray(y, dtype=float)

    with pytest.raises(ContractError, match="validate_observations: accepted an observation with NaN"):
        check_problem(Careless(), reference=False)
