"""A user's own model and problem, registered so that `innbench bench` gives them leaderboard rows.

Used by ``examples/leaderboard.toml``::

    innbench bench --config examples/leaderboard.toml --db results/leaderboard.db
    innbench report --db results/leaderboard.db --out results/leaderboard

The model is a heteroscedastic Gaussian regression ``x | y ~ N(mu(y), diag sigma(y)^2)``: one
unimodal Gaussian per observation, so it cannot represent the two arm branches of inverse kinematics;
the table shows what that costs against the built-in models. The problem is a 2-parameter toy whose
observation is the sum of the parameters plus noise.
"""

from __future__ import annotations

import math

import torch

import innbench
from innbench.models import Model, ModelFacts, register_model
from innbench.models.blocks import subnet


class GaussianRegression(Model):
    r"""``y -> (mu, log sigma)``; loss: the Gaussian negative log-likelihood of ``x`` per dimension."""

    name = "gaussian_regression"
    title = "Gaussian regression (plugin)"
    conditional = True
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=True, equation="Gauss NLL")
    defaults = {"hidden": 128, "layers": 3, "condition_features": True, "seed": 0}

    def build(self):
        d = self.problem.x_dim
        self.net = subnet(self.cond_dim, 2 * d, self.config["hidden"], self.config["layers"])

    def dim_z(self):
        return self.problem.x_dim

    def loss(self, x, y):
        mu, log_sigma = self.net(y).chunk(2, dim=-1)
        log_sigma = log_sigma.clamp(-7, 5)
        nll = (0.5 * ((x - mu) / log_sigma.exp()) ** 2 + log_sigma + 0.5 * math.log(2 * math.pi)).mean()
        return nll, {"nll": float(nll.detach())}

    def log_prob_standardized(self, x, y):
        """``log N(x; mu(y), diag sigma(y)^2)``: what ``model.log_prob`` and the density facts rely on."""
        mu, log_sigma = self.net(y).chunk(2, dim=-1)
        log_sigma = log_sigma.clamp(-7, 5)
        return (-0.5 * ((x - mu) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample_standardized(self, y, n, generator):
        mu, log_sigma = self.net(y).chunk(2, dim=-1)
        eps = torch.randn(len(y), n, mu.shape[-1], generator=generator, device=y.device)
        return mu[:, None, :] + log_sigma.clamp(-7, 5).exp()[:, None, :] * eps


register_model(GaussianRegression, overwrite=True)

innbench.register_problem(
    innbench.SimulatorProblem(
        "noisy_sum", x_names=["a", "b"], y_names=["a + b"],
        prior=lambda n, rng: rng.normal(size=(n, 2)),
        simulator=lambda x, rng: x.sum(1, keepdims=True) + 0.1 * rng.normal(size=(len(x), 1)),
        stochastic=True),
    overwrite=True,
)

__all__ = ["GaussianRegression"]
