"""The simulation budget is counted at the simulator (issue 35): ``api.train(problem, model, simulations=N)``
runs the problem's simulator on exactly N parameter vectors, whatever the model, ensembles included. These
tests pin today's behaviour before the model layer is redesigned, so the redesign cannot change it unseen."""

import numpy as np
import pytest

from innbench import api, get_problem
from innbench.models import get_model_class, list_models


class CountingProblem:
    """Wraps a problem instance and counts the parameter vectors its simulator is run on: through
    ``simulate``, and through ``forward`` / ``forward_torch`` called outside ``simulate`` (a model that ran
    the forward process itself would spend simulations too)."""

    def __init__(self, problem, monkeypatch):
        self.simulated = 0
        self._inside = False
        simulate, forward, forward_torch = problem.simulate, problem.forward, problem.forward_torch

        def counted_simulate(n, rng):
            self._inside = True
            try:
                x, y = simulate(n, rng)
            finally:
                self._inside = False
            self.simulated += len(x)
            return x, y

        def counted_forward(x, *args, **kwargs):
            if not self._inside:
                self.simulated += len(x)
            return forward(x, *args, **kwargs)

        def counted_forward_torch(x, *args, **kwargs):
            if not self._inside:
                self.simulated += len(x)
            return forward_torch(x, *args, **kwargs)

        monkeypatch.setattr(problem, "simulate", counted_simulate)
        monkeypatch.setattr(problem, "forward", counted_forward)
        monkeypatch.setattr(problem, "forward_torch", counted_forward_torch)


#: small networks and few epochs: the count, not the fit, is under test
SMALL = {"max_epochs": 2, "patience": 1}


def _trained_on_simulations() -> list[str]:
    return [n for n in list_models() if get_model_class(n).trainable]


@pytest.mark.parametrize("model", _trained_on_simulations())
def test_a_simulation_budget_of_n_runs_the_simulator_on_exactly_n_parameter_vectors(model, monkeypatch):
    problem = get_problem("two_moons")
    counter = CountingProblem(problem, monkeypatch)
    n = 300
    trained = api.train(problem, model, simulations=n, simulation_budget=SMALL, progress=False, preset="tiny")
    assert counter.simulated == n, f"{model}: {counter.simulated} simulations for a budget of {n}"
    info = trained.train_info
    fitted = info.get("round_simulations", [n])[0]  # a sequential model fits round 1 on its share of them
    assert info["budget"]["simulations"] == n and info["n_train"] + info["n_validation"] == fitted


def test_an_ensemble_of_k_members_spends_the_budget_once(monkeypatch):
    """The K members train on the same N simulations (different seeds), so the budget stays N."""
    problem = get_problem("two_moons")
    counter = CountingProblem(problem, monkeypatch)
    trained = api.train(problem, "mdn", simulations=200, simulation_budget=SMALL, progress=False, members=3,
                        preset="tiny")
    assert counter.simulated == 200
    samples = trained.sample(np.array([[0.1, 0.2]]), 30, seed=1)
    assert samples.shape == (1, 30, 2) and np.isfinite(samples).all()
