"""The one contract every model follows: build for a problem, loss on a batch, sample, save and load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from ..problems import ObservationError, Problem, get_problem
from ..runtime import check_deadline
from .estimator import Estimator
from .parts import ConditionNoise, build_parts
from .settings import ConditionalSettings, ModelSettings, OptionsView, YSupervisedSettings, settings_from_defaults
from .summary import summary_for

__all__ = ["Model", "ModelFacts", "ModelLoadError"]


class ModelLoadError(RuntimeError):
    """A model directory is missing, incomplete or corrupt.

    Raised by :func:`load_model` with a message that names the directory and what is wrong with it (also
    for a model trained on another version of its problem).

    Example:
        >>> import tempfile
        >>> from innbench.models import ModelLoadError, load_model
        >>> try:
        ...     load_model(tempfile.mkdtemp())
        ... except ModelLoadError as err:
        ...     print("has no config.json" in str(err))
        True
    """


@dataclass(frozen=True)
class ModelFacts:
    """What the paper's tables list about a model (the report fills its columns from these).

    Attributes:
        ml_loss: trained by maximum likelihood.
        y_supervised: encodes ``x`` as ``[y, z]``, with ``y`` supervised (the INN of Eq. 3 / 4).
        exact_inverse: the sampler is the exact inverse of the trained map.
        density: ``log_prob`` gives the posterior density (:attr:`Model.has_density`).
        equation: the paper's equation of the loss (e.g. ``"Eq. 5"``).

    Example:
        >>> from innbench.models import get_model_class
        >>> get_model_class("cinn").facts
        ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=True, density=True, equation='Eq. 5')
    """

    ml_loss: bool
    y_supervised: bool
    exact_inverse: bool
    density: bool
    equation: str


class Model(Estimator):
    """Base class of all innbench models.

    A model works internally on standardised ``x`` and ``y`` (training-set mean and standard deviation,
    :class:`innbench.models.parts.Standardize` parts ``x_scale`` and ``c_scale``). Discrete parameters
    (``problem.discrete``) are dequantised with uniform noise in ``[-0.5, 0.5)`` during training and
    rounded when sampling.

    Parameters bounded on both sides (``problem.bounds``, e.g. a uniform prior's box) are first mapped
    to the real line by ``logit((x - low) / (high - low))`` (option ``bounded_transform="logit"``, the
    default; ``None`` switches it off), so every model's samples stay inside the prior's support and a
    flow need not learn the posterior's hard edges at the box's walls (as sbi does for bounded priors).
    The problem's ``log_columns`` (rates with a lower bound, such as the ODE tasks' log-normal ones) are
    mapped to ``log(x - low)`` by the same option.

    Subclasses set ``name``, ``facts``, ``defaults`` and implement :meth:`build`, :meth:`loss`,
    :meth:`sample_standardized` and :meth:`dim_z`; a density model also implements
    ``log_prob_standardized(x, c)``. :func:`innbench.checks.check_model` tests a subclass against this
    contract. A model is built untrained (usually by :func:`innbench.models.build_model`), trained by
    :func:`innbench.training.fit` or :func:`innbench.simbudget.fit_simulations`, and saved and loaded as a
    directory (:meth:`save`, :func:`load_model`).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        **config: the model's options: its class's ``defaults``, ``bounded_transform`` (``"logit"`` or
            None) and ``lr_scale`` (a factor on the budget's learning rate) for every model, and for
            conditional models ``condition_features``, ``summary``, ``summary_dim``, ``summary_hidden``,
            ``summary_moments`` and ``members`` (an ensemble of that many). Unknown or invalid options raise
            a ``ValueError`` that names them; :meth:`known_options` lists them with their defaults.

    Example:
        >>> import numpy as np
        >>> from innbench.models import build_model
        >>> from innbench.training import fit, get_budget
        >>> model = build_model("mdn", "linear", hidden=32, seed=0)
        >>> sorted(model.known_options())[:4]
        ['bounded_transform', 'components', 'condition_features', 'hidden']
        >>> model.sample([[1.0]], 8).shape  # untrained: the right shape, meaningless values
        (1, 8, 2)

        Training takes seconds even for this small budget, so it is not run here:

        ```python
        fit(model, get_budget("tiny"), seed=0)
        model.save("runs/mdn-linear")
        ```
    """

    name: ClassVar[str] = "model"
    #: human-readable name, as in the paper's tables
    title: ClassVar[str] = "model"
    facts: ClassVar[ModelFacts]
    #: whether the model conditions on y (and so takes the problem's extra condition features)
    conditional: ClassVar[bool] = False
    #: whether training fits parameters (False: a baseline such as rejection ABC, which only simulates)
    trainable: ClassVar[bool] = True
    #: whether one trained model answers any observation (False: the work is redone per observation)
    amortized: ClassVar[bool] = True
    #: whether the model spends part of its simulation budget per observation, in rounds
    #: (:mod:`innbench.models.sequential`: ``tsnpe``, ``snle``; then ``amortized`` is False)
    sequential: ClassVar[bool] = False
    #: whether :meth:`sample` may draw one observation's ``n`` samples in several calls (False: the
    #: sampler needs all ``n`` at once, as rejection ABC's nearest-``n`` selection does)
    sample_in_chunks: ClassVar[bool] = True
    #: whether the model needs the problem's ``log_prior`` and ``log_likelihood`` (the MCMC baseline)
    requires_likelihood: ClassVar[bool] = False
    #: whether the model needs the problem's ``log_prior`` (and a stochastic simulator): neural likelihood + MCMC
    requires_prior_density: ClassVar[bool] = False
    #: the model's typed options (:mod:`innbench.models.settings`), each documented in the class's Args
    Settings: ClassVar[type[ModelSettings]] = ModelSettings
    #: every option with its default (from :attr:`Settings`; a model may give only this dict instead)
    defaults: ClassVar[dict] = ModelSettings.defaults()
    #: options that may change after the model is built (read when sampling, not by the weights):
    #: :meth:`configure`
    sampling_options: ClassVar[tuple[str, ...]] = ()
    #: the config option that sets the network width (scaled by ``Budget.params``); None: no width
    width_option: ClassVar[str | None] = "hidden"
    #: what an ensemble of this model (option ``members=K``, :class:`innbench.models.ensemble.PosteriorEnsemble`)
    #: mixes: ``"posterior"`` (the members' posteriors: draws in shares by weight) or ``"likelihood"`` (the
    #: members' learned likelihoods ``log sum_k w_k q_k(y | x)``, under one per-query sampler: NLE)
    mixes: ClassVar[Literal["posterior", "likelihood"]] = "posterior"

    def __init__(self, problem: Problem | str, **config):
        super().__init__()
        self.problem = get_problem(problem)
        custom_summary = config.get("summary")
        if isinstance(custom_summary, nn.Module):
            config = {**config, "summary": f"custom:{type(custom_summary).__name__}"}
        known = self.known_options()
        #: the typed, validated options (:attr:`Settings`); ``config`` is the same as a dict
        self.settings = self.Settings.from_options(config, f"config: model {self.name!r}")
        self.config = OptionsView(self.settings.as_dict())
        if self.config.get("members", 1) != 1:
            raise ValueError(f"members: one {type(self).__name__} is one model (members=1); build an ensemble "
                             f"with build_model({self.name!r}, problem, members={self.config['members']!r}) or "
                             "innbench.models.ensemble.PosteriorEnsemble")
        p = self.problem
        parts = build_parts(p, self.settings, name=self.name, conditional=self.conditional,
                            y_supervised=self.facts.y_supervised)
        #: the logit of two-sided bounded parameters (:class:`innbench.models.parts.LogitTransform`)
        self.bounded = parts.bounded
        #: noise on integer-valued parameters while training (:class:`innbench.models.parts.Dequantize`)
        self.dequantizer = parts.dequantize
        #: the standardisation of x after the logit (:class:`innbench.models.parts.Standardize`)
        self.x_scale = parts.x_scale
        #: the observation as the model reads it (:class:`innbench.models.parts.ConditionFeatures`)
        self.features = parts.features
        #: the standardisation of the condition (y and its features), before the summary network
        self.c_scale = parts.c_scale
        self.cond_dim = parts.features.dim
        self.register_load_state_dict_pre_hook(_rename_0_2_0_weights)
        self.train_info: dict = {}
        #: fraction of the training budget done (set by :func:`innbench.training.fit`; ramps read it)
        self.progress = 1.0
        from .size import size_guard, size_options

        changed = size_options(config, known)
        with (torch.random.fork_rng(devices=[]),  # weights depend on the config's seed only
              size_guard(self.name, p.name, changed)):  # refused before a too large tensor is made
            torch.manual_seed(int(self.config.get("seed") or 0))
            #: the summary network of a series or set (:func:`innbench.models.summary.summary_for`), or None
            self.summary_net = summary_for(p, self.settings, custom_summary) if self.conditional else None
            if self.summary_net is not None:  # the model's networks read the summary, not y
                self.cond_dim = int(self.summary_net.out_dim)
            #: the training noise on the condition (:class:`innbench.models.parts.ConditionNoise`)
            self.condition_noise = self.make_condition_noise()
            self.cond_dim += self.condition_noise.extra_features  # the noise level, where it is told
            self.build()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "Settings" not in cls.__dict__ and "defaults" in cls.__dict__:
            # a model that gives a defaults dict (a user's, or a variant of a built-in one): typed settings
            # made from it, on the settings of its parent model or of its kind
            base = cls.Settings
            if base is ModelSettings:
                facts = getattr(cls, "facts", None)
                base = (ConditionalSettings if cls.conditional else
                        YSupervisedSettings if facts is not None and facts.y_supervised else ModelSettings)
            cls.Settings = settings_from_defaults(base, cls.__dict__["defaults"], f"{cls.__name__}Settings",
                                                  cls.width_option)
        cls.defaults = cls.Settings.defaults()

    @classmethod
    def known_options(cls) -> dict:
        """Every option the model takes with its default (the fields of :attr:`Settings`)."""
        return dict(cls.defaults)

    def configure(self, **changes) -> None:
        """Change options read when sampling (:attr:`sampling_options`, e.g. the cINN's ``y_noise_sample``,
        flow matching's ``steps``), validated as when built; other options need a new model.

        Example:
            >>> from innbench.models import build_model
            >>> fm = build_model("flow_matching", "two_moons", hidden=32)
            >>> fm.configure(steps=16)
            >>> fm.settings.steps, fm.config["steps"]
            (16, 16)
        """
        import dataclasses

        fixed = sorted(set(changes) - set(self.sampling_options))
        if fixed:
            raise ValueError(f"{fixed[0]}: cannot change after model {self.name!r} is built (it shapes the "
                             f"weights or the training); options that can: {list(self.sampling_options)}")
        self.settings = dataclasses.replace(self.settings, **changes)
        self.config = OptionsView(self.settings.as_dict())
        self.condition_noise = self.make_condition_noise()

    def embed(self, c: torch.Tensor) -> torch.Tensor:
        """The condition the model's networks read: standardised ``c (m, cond_dim)`` itself, or its summary
        (a series or set is given to the summary network as ``(m, length, channels)``, padding NaN)."""
        if self.summary_net is None:
            return c
        shape = self.problem.observation_shape
        return self.summary_net(c.view(len(c), *shape) if shape is not None else c)

    def make_condition_noise(self) -> ConditionNoise:
        """The training noise on the condition (:class:`innbench.models.parts.ConditionNoise`) of a
        conditional model's options (``y_noise`` and, where the model has them, ``y_noise_final``,
        ``noise_conditioned``, ``y_noise_min``, ``y_noise_sample``); none for other models."""
        return ConditionNoise.from_options(self.config) if self.conditional else ConditionNoise()

    def training_loss(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """:meth:`loss` on a standardised batch, the condition first through the summary network, then
        with the training noise (:attr:`condition_noise`)."""
        return self.loss(x, self.condition_noise.training(self.embed(c), self.progress))

    def network_condition(self, c: torch.Tensor) -> torch.Tensor:
        """What the network reads at inference for standardised conditions ``c``: their summary (or ``c``),
        with the noise level told where the model is noise-conditioned."""
        return self.condition_noise.inference(self.embed(c))

    # -- to implement -------------------------------------------------------------------------
    def build(self) -> None:
        """Create the networks from ``self.config`` and ``self.problem`` (called once by ``__init__``, under
        the config's torch seed)."""
        raise NotImplementedError

    def dim_z(self) -> int:
        """The latent size ``dim(z)`` (the paper's tables list it)."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Training loss on a standardised batch; returns ``(loss, {part: value})``."""
        raise NotImplementedError

    def sample_standardized(self, y: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` standardised posterior draws per observation (as given by :meth:`condition`): ``(m, n, x_dim)``
        (an amortized model's sampler)."""
        raise NotImplementedError

    def sample_query(self, y: np.ndarray, n: int, generator: torch.Generator) -> np.ndarray:
        """``n`` posterior draws for each validated observation ``y (m, y_dim)``, in the problem's units:
        ``(m, n, x_dim)``. A model that implements it samples through it instead of
        :meth:`sample_standardized`: the per-query models (MCMC, ABC, NLE) work on the problem's own ``y`` and
        ``x`` rather than on standardised tensors."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------
    @classmethod
    def variant_title(cls, label: str, options: dict, title: str | None = None) -> str:
        """The report's row name of a grid variant of this model (own ``label`` and ``options``):
        ``"<title> [<label>]"`` unless a model names its variants better."""
        return f"{title or cls.title} [{label}]"

    def latent_size(self) -> int:
        """``dim(x) - dim(y)`` where that is positive, else ``dim(x)``: the latent size of the models that
        encode ``x`` as ``[y, z]`` (the paper's rule: nothing of ``x`` is lost in the encoding)."""
        p = self.problem
        return p.x_dim - p.y_dim if p.x_dim > p.y_dim else p.x_dim

    @property
    def device(self) -> torch.device:
        """The torch device the model's weights are on."""
        return self.x_scale.mean.device

    def n_parameters(self) -> int:
        """The number of trainable parameters (of every ensemble member, of the summary network too)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def to_unbounded(self, x):
        """``x`` with its two-sided bounded parameters mapped to the real line (identity where there are none)."""
        return self.bounded.forward(x)

    def from_unbounded(self, x):
        """The inverse of :meth:`to_unbounded`."""
        return self.bounded.inverse(x)

    def set_normalization(self, x: np.ndarray, y: np.ndarray) -> None:
        """Set the standardisation of ``x`` (after the logit of bounded parameters) and of the condition from
        the training set ``x (N, x_dim)``, ``y (N, y_dim)`` (the trainers call it first)."""
        self.x_scale.fit(self.to_unbounded(torch.as_tensor(x, dtype=torch.float64)), unbiased=False)
        # a series or set: one mean and scale per channel, over every step or item present
        channels = self.problem.observation_shape[1] if self.problem.structured else None
        self.c_scale.fit(self.features(torch.as_tensor(y, dtype=torch.float64)), channels=channels)

    def dequantize(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x`` with uniform noise in ``[-0.5, 0.5)`` added to its integer-valued parameters (training only;
        :class:`innbench.models.parts.Dequantize`)."""
        return self.dequantizer(x, generator)

    def standardize_x(self, x):
        """Parameters ``x`` (torch, the problem's units) in the standardised coordinates the network sees."""
        return self.x_scale(self.to_unbounded(x))

    def condition(self, y):
        """What the model is given for an observation: standardised ``y`` (plus the problem's condition
        features for conditional models)."""
        return self.c_scale(self.features(y))

    def unstandardize_x(self, x):
        """The inverse of :meth:`standardize_x`: standardised coordinates back to the problem's units."""
        return self.from_unbounded(self.x_scale.inverse(x))

    @torch.inference_mode()
    def sample(self, y, n: int, seed: int | None = 0, batch_size: int = 400_000,
               round_discrete: bool = True, *, query=None) -> np.ndarray:
        """Posterior samples for each observation: an array of shape ``(len(y), n, x_dim)``.

        Discrete parameters are rounded to integers unless ``round_discrete=False`` (rounding puts the
        samples in the prior's support and matches integer-valued references, but moves them off the
        continuous solution set the model learned, which raises Err_resim).

        ``y`` has shape ``(m, y_dim)`` (validated against the problem: shape, finiteness, reachability).
        The same ``seed`` gives the same samples. Observations are batched so at most ``batch_size``
        samples are in flight at once.

        Args:
            y: observations ``(m, y_dim)`` (one ``(y_dim,)`` works too; a series or set in any layout that
                :meth:`innbench.problems.Problem.validate_observations` takes).
            n: samples per observation.
            seed: seeds the sampler's torch generator (None: 0).
            batch_size: the most samples drawn in one network call.
            round_discrete: round integer-valued parameters.
            query: a per-query sampler ``(y (m, y_dim), n, generator) -> (m, n, x_dim)`` in the problem's
                units, used instead of the model's own :meth:`sample_query` (None: the model's own). An
                ensemble of likelihood models passes the sampler of their mixture.

        Returns:
            An array ``(m, n, x_dim)`` (float64) in the problem's units.

        Example:
            >>> import numpy as np
            >>> from innbench.models import build_model
            >>> model = build_model("cinn", "kinematics")
            >>> s = model.sample([[1.5, 0.0], [1.0, 0.5]], 10, seed=3)
            >>> s.shape, bool(np.array_equal(s, model.sample([[1.5, 0.0], [1.0, 0.5]], 10, seed=3)))
            ((2, 10, 4), True)
        """
        from ..params import count
        from ..runtime import check_memory

        y = self.problem.validate_observations(y, "y")
        n = count(n, "n")
        # the float64 result and its float32 copy on the way out
        check_memory(len(y) * n * self.problem.x_dim * 12.0, "n", f"{len(y):,} observations x {n:,} samples")
        was_training = self.training
        self.eval()
        g = torch.Generator(device=self.device)
        g.manual_seed(0 if seed is None else int(seed))
        yt = self._checked_condition(y)
        if query is None and type(self).sample_query is not Model.sample_query:
            query = self.sample_query
        # at most batch_size samples in flight: several observations at once, or one in chunks of n
        chunk = min(n, batch_size) if self.sample_in_chunks else n
        per = max(1, batch_size // chunk)
        outs = []
        for start in range(0, len(yt), per):
            check_deadline()
            if query is not None:  # a sampler in the problem's units throughout (float64)
                outs.append(torch.as_tensor(np.asarray(query(y[start : start + per], n, g), float)))
                continue
            yb = self.network_condition(yt[start : start + per])
            parts = [self.unstandardize_x(self.sample_standardized(yb, min(chunk, n - k), g)).cpu()
                     for k in range(0, n, chunk)]
            outs.append(parts[0] if len(parts) == 1 else torch.cat(parts, 1))
        self.train(was_training)
        out = torch.cat(outs).numpy().astype(np.float64)
        return self.round_discrete(out) if round_discrete else out

    #: standardised conditions farther out than this many training standard deviations are refused
    MAX_CONDITION_Z = 1000.0

    def _checked_condition(self, y: np.ndarray) -> torch.Tensor:
        """The standardised condition of validated ``y``; observations absurdly far from every simulated
        observation the model was trained on (or overflowing float32) are refused, not extrapolated."""
        c = self.condition(torch.as_tensor(y, dtype=torch.float32, device=self.device))
        far = ~((c.abs() <= self.MAX_CONDITION_Z) | torch.isnan(c)).all(-1).cpu().numpy()  # NaN: padding
        if far.any():
            rows = np.flatnonzero(far)[:5].tolist()
            raise ObservationError(f"y: rows {rows} (e.g. {y[rows[0]].tolist()}) lie more than "
                                   f"{self.MAX_CONDITION_Z:g} standard deviations from the observations the model "
                                   "was trained on; the model cannot say anything there")
        return c

    @property
    def has_density(self) -> bool:
        """Whether :meth:`log_prob` is available (the model's facts say ``density`` and it implements
        ``log_prob_standardized(x, c)``, the log density of standardised ``x`` given a condition)."""
        return bool(self.facts.density) and callable(getattr(self, "log_prob_standardized", None))

    @torch.inference_mode()
    def log_prob(self, x, y) -> np.ndarray:
        """The model's posterior log density ``log q(x | y)`` in the problem's units: an array ``(n,)``.

        ``x`` has shape ``(n, x_dim)``; ``y`` has shape ``(n, y_dim)`` (one observation per row of ``x``)
        or ``(1, y_dim)`` (the same observation for all). The change of variables through the model's
        standardisation and its logit transform of bounded parameters is included; points outside a
        bounded parameter's interval get ``-inf``, as do points so far from the training data (10^6 standard
        deviations, or beyond float32's range) that their density underflows. Integer-valued parameters are
        learned dequantised (uniform noise of width 1), so there ``exp(log_prob)`` at an integer approximates
        the probability of that integer. For the MAF + decoder it is the MAF's density, which the default
        decoder sampler approximates (``sampler="flow"`` samples it exactly). Models without a tractable density
        (:attr:`has_density` False) raise ``NotImplementedError``; use :meth:`sample` for them.

        Args:
            x: parameter rows ``(n, x_dim)`` in the problem's units.
            y: observations ``(n, y_dim)`` or ``(1, y_dim)``.

        Returns:
            An array ``(n,)`` of log densities (float64).

        Example:
            >>> import numpy as np
            >>> from innbench.models import build_model
            >>> model = build_model("cinn", "kinematics")
            >>> x = model.sample([[1.5, 0.0]], 6)[0]
            >>> lp = model.log_prob(x, [[1.5, 0.0]])
            >>> lp.shape, bool(np.isfinite(lp).all())
            ((6,), True)
        """
        if not self.has_density:
            raise NotImplementedError(f"model {self.name!r} has no tractable density (facts.density is False); "
                                      "use sample()")
        y = self.problem.validate_observations(y, "y")
        x = np.asarray(x, dtype=float)
        if x.ndim == 1 and self.problem.x_dim > 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.problem.x_dim:
            raise ValueError(f"x: expected shape (n, {self.problem.x_dim}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("x: expected finite values, got NaN or infinity")
        if len(y) not in (1, len(x)):
            raise ValueError(f"y: expected 1 or {len(x)} observations (one per row of x), got {len(y)}")
        was_training = self.training
        self.eval()
        xt = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        c = self.network_condition(self._checked_condition(y)).expand(len(x), -1)
        s = self.standardize_x(xt)
        # a point beyond float32's range or 10^6 standard deviations from the data has a density that
        # underflows: -inf, not the NaN the network's arithmetic would give on it
        far = ~torch.isfinite(s).all(-1) | (s.abs() > 1e6).any(-1)
        s = torch.where(far[:, None], torch.zeros_like(s), s)
        lp = self.log_prob_standardized(s, c) + self.x_scale.log_abs_det()
        lp = torch.where(far, torch.full_like(lp, -float("inf")), lp)
        lp = lp + self.bounded.log_density_correction(xt)  # the logit's Jacobian, -inf outside the bounds
        self.train(was_training)
        return lp.cpu().numpy().astype(np.float64)

    def round_discrete(self, samples: np.ndarray) -> np.ndarray:
        """Round the problem's integer-valued parameters of ``samples (..., x_dim)`` in place (as
        :meth:`sample` does by default) and return them."""
        if self.problem.discrete:
            idx = list(self.problem.discrete)
            samples[..., idx] = np.round(samples[..., idx])
        return samples

    # -- persistence --------------------------------------------------------------------------
    def trainable_members(self) -> list[Model]:
        """The models a trainer fits: this one."""
        return [self]

    def record_training(self, summaries: list[dict], seed: int) -> dict:
        """A single model's training summary is the trainer's (already its ``train_info``)."""
        self.train_info = summaries[0]
        return self.train_info



#: the weights' names before the standardisation became a part (innbench 0.2.0 and earlier)
_RENAMED_0_2_0 = {"x_mean": "x_scale.mean", "x_std": "x_scale.std", "c_mean": "c_scale.mean", "c_std": "c_scale.std"}


def _rename_0_2_0_weights(module, state_dict, prefix, *_):
    """Load hook of :class:`Model`: a state dict saved by innbench 0.2.0 names the standardisation's buffers
    ``x_mean``, ``x_std``, ``c_mean`` and ``c_std``; they are renamed to the parts' names."""
    for old, new in _RENAMED_0_2_0.items():
        if prefix + old in state_dict and prefix + new not in state_dict:
            state_dict[prefix + new] = state_dict.pop(prefix + old)
