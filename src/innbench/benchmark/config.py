"""Benchmark grids: which problems, models and seeds to run, with what budget and evaluation.

A grid comes from a named preset (:data:`GRID_PRESETS`) or a TOML file (:func:`load_grid`). It expands
into :class:`Cell` objects; a cell is one (problem, model variant, seed) and is identified by a key
that hashes everything its numbers depend on, so a results database never mixes budgets.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..params import check_known
from ..training import PRESETS, Budget, get_budget

__all__ = ["GRID_PRESETS", "SBI_MODELS", "SBI_TASKS", "Cell", "GridConfig", "ModelSpec", "budget_label", "get_grid",
           "import_plugins", "load_grid"]

#: Observations whose posterior the report draws (the paper's Figures 2 and 3; every label of the mixture).

def import_plugins(imports) -> None:
    r"""Import the modules (``package.module``) or files (``path/to/plugin.py``) that register a user's
    models and problems. Importing twice is harmless (the module is cached by name).

    Args:
        imports: module names or paths of ``.py`` files (a grid's ``imports``, the CLI's ``--imports``).

    Example:
        >>> import pathlib, tempfile
        >>> from innbench import list_problems
        >>> from innbench.benchmark.config import import_plugins
        >>> plugin = pathlib.Path(tempfile.mkdtemp()) / "my_plugin.py"
        >>> _ = plugin.write_text("from innbench import register_problem\n"
        ...                       "from innbench.problems import Linear\n"
        ...                       "register_problem(Linear, name='plugin_linear')\n")
        >>> import_plugins([str(plugin)])
        >>> "plugin_linear" in list_problems()
        True
    """
    import importlib.util
    import sys

    for entry in imports:
        if str(entry).endswith(".py"):
            path = Path(entry)
            name = f"innbench_plugin_{path.stem}"
            if name in sys.modules:
                continue
            if not path.is_file():
                raise ValueError(f"imports: plugin file {str(path)!r} does not exist")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                del sys.modules[name]
                raise
        else:
            try:
                importlib.import_module(entry)
            except ImportError as exc:
                raise ValueError(f"imports: cannot import {entry!r} ({exc})") from None


@dataclass(frozen=True)
class ModelSpec:
    """A model of the grid: a registered ``model`` name, a ``label`` (its row) and its ``options``.

    Attributes:
        model: a registered model name.
        label: the row's name in the results and the report (variants of one model differ by label).
        options: the model's options.
        simulations: see below.

    Example:
        >>> from innbench.benchmark import ModelSpec
        >>> ModelSpec.parse("cinn", "models[0]")
        ModelSpec(model='cinn', label='cinn', options={}, simulations=None)
        >>> ModelSpec.parse({"model": "cinn", "label": "cinn_x4", "options": {"members": 4}}, "models[1]").label
        'cinn_x4'
    """

    model: str
    label: str
    options: dict = field(default_factory=dict)
    #: a simulation budget: the model trains on exactly this many simulations (``api.train(simulations=)``;
    #: rejection ABC simulates this many per query); None: the grid's fixed-batch budget
    simulations: int | None = None

    @classmethod
    def parse(cls, entry, where: str) -> ModelSpec:
        """A spec from a grid's ``models`` entry: a model name, or a table with ``model`` and optionally
        ``label``, ``options`` and ``simulations``; errors name the entry as ``where``."""
        if isinstance(entry, str):
            return cls(entry, entry, {})
        if isinstance(entry, dict) and isinstance(entry.get("model"), str):
            unknown = set(entry) - {"model", "label", "options", "simulations"}
            if unknown:
                raise ValueError(f"{where}: unknown keys {sorted(unknown)}; expected model, label, options "
                                 "(and simulations)")
            options = entry.get("options", {})
            if not isinstance(options, dict):
                raise ValueError(f"{where}: options must be a table, got {options!r}")
            sims = entry.get("simulations")
            if sims is not None:
                from ..params import count

                sims = count(sims, f"{where}: simulations")
            return cls(entry["model"], str(entry.get("label", entry["model"])), dict(options), sims)
        raise ValueError(f"{where}: expected a model name or a table with 'model' (and 'label', 'options'), "
                         f"got {entry!r}")


@dataclass(frozen=True)
class Cell:
    """One unit of work: train ``spec`` on ``problem`` with ``seed`` and evaluate it.

    Made by :meth:`GridConfig.cells`; its :attr:`key` identifies its results in the database.

    Example:
        >>> from innbench.benchmark import get_grid
        >>> cell = get_grid("quick").cells()[0]
        >>> cell.describe(), len(cell.key)
        ('kinematics/inn/seed0', 24)
    """

    grid: str
    problem: str
    spec: ModelSpec
    seed: int
    settings: dict  # budget, params and evaluation settings shared by the grid
    #: (("innbench", version), ("problem", version)): results of other code or another problem version
    #: get other keys, so a database never passes them off as this cell's
    versions: tuple = ()

    @property
    def key(self) -> str:
        """A hash of everything the cell's numbers depend on (problem, model, label, options, seed, the
        grid's settings, the innbench and problem versions)."""
        payload = {"problem": self.problem, "model": self.spec.model, "label": self.spec.label,
                   "options": self.spec.options, "seed": self.seed, "settings": self.settings}
        if self.spec.simulations is not None:  # only then, so that the keys of older grids stay the same
            payload["simulations"] = self.spec.simulations
        if self.versions:
            payload["versions"] = dict(self.versions)
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]

    def describe(self) -> str:
        """``problem/label/seed<seed>``, for messages."""
        return f"{self.problem}/{self.spec.label}/seed{self.seed}"


@dataclass
class GridConfig:
    """A benchmark grid.

    Attributes:
        name: stored with every run; the report shows one grid at a time.
        problems: problem names.
        models: model names or :class:`ModelSpec` (a variant with its own label and options).
        seeds: training seeds (the test observations and references are fixed).
        preset: training-budget preset (``tiny``, ``quick``, ``default``) and ``budget`` overrides of it.
        params: target parameter count for every model with a width (``None``: own default widths).
        observations: test observations per cell (the first ``k`` of the fixed set of 1000).
        samples: posterior samples per observation (model and reference).
        timing_observations: observations timed one call at a time for the inference time.
        c2st_observations: observations (the first ones) with a classifier two-sample test.
        noise_floor_observations: observations for the noise floor of Err_post.
        extra: explicit extra cells ``{problem, model, label, options}`` (e.g. only some models on a toy).
        imports: modules imported first (where users register their own models and problems); also
            imported in every Ray worker.
        threads: torch CPU threads per cell (``None``: torch's default).
        simulations: simulation budgets (e.g. ``[1000, 10000, 100000]``): every model runs once per budget,
            labelled ``<label>@1e3`` ..., trained on exactly that many simulations with a validation split
            and early stopping (:mod:`innbench.simbudget`; ``simulation_budget`` overrides its fields);
            rejection ABC simulates that many per query; models that neither train nor simulate (``mcmc``)
            run once. Empty: the fixed-batch ``preset`` / ``budget`` of the paper's protocol.
        observation_set: ``test`` (the first ``observations`` of the fixed prior-predictive test set) or
            ``fixed`` (the problem's published observations, e.g. sbibm's ten per task, with their true
            parameters; ``observations`` is then at most their number).
        c2st_backend, c2st_folds: the classifier two-sample test's classifier (``torch``: fast; ``sklearn``:
            sbibm's own ``MLPClassifier``) and its cross-validation folds (sbibm: 5).
        sbc_observations, sbc_samples: simulation-based calibration on its own observations (the first
            ``sbc_observations`` of the test set, ``sbc_samples`` draws each; they need no reference
            posterior), where the scored observations are too few for it (a ``fixed`` set of ten). 0: the
            ranks of the scored observations, as before.
        metrics: opt-in metrics (:attr:`innbench.metrics.Metric.default` False, e.g. ``["lc2st"]``) computed
            beside the default ones; their values reach the database and the report like any other.
        metric_options: options of the metrics by name (:attr:`innbench.metrics.Metric.options`), e.g.
            ``{lc2st_calibration = 1000}``.

    Example:
        >>> from innbench.benchmark import GridConfig
        >>> grid = GridConfig(name="mine", problems=["kinematics"], models=["cinn", "mdn"], seeds=[0, 1],
        ...                   preset="quick", params=30_000)
        >>> [c.describe() for c in grid.cells()]
        ['kinematics/cinn/seed0', 'kinematics/mdn/seed0', 'kinematics/cinn/seed1', 'kinematics/mdn/seed1']
        >>> grid.training_budget().n_batches, grid.training_budget().params
        (2500, 30000)
    """

    name: str = "custom"
    problems: list = field(default_factory=lambda: ["kinematics", "ballistics"])
    models: list = field(default_factory=lambda: ["cinn"])
    seeds: list = field(default_factory=lambda: [0])
    preset: str = "default"
    budget: dict = field(default_factory=dict)
    params: int | None = None
    observations: int = 100
    samples: int = 4000
    timing_observations: int = 10
    c2st_observations: int = 5
    noise_floor_observations: int = 50
    extra: list = field(default_factory=list)
    imports: list = field(default_factory=list)
    threads: int | None = None
    simulations: list = field(default_factory=list)
    simulation_budget: dict = field(default_factory=dict)
    observation_set: str = "test"
    c2st_backend: str = "torch"
    c2st_folds: int = 2
    sbc_observations: int = 0
    sbc_samples: int = 1000
    metrics: list = field(default_factory=list)
    metric_options: dict = field(default_factory=dict)

    def __post_init__(self):
        from .. import params as P

        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name: expected a non-empty string, got {self.name!r}")
        for key in ("problems", "models", "seeds", "extra", "imports", "metrics"):
            value = getattr(self, key)
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{key}: expected a list, got {value!r} ({type(value).__name__})"
                                 + (f"; write [{value!r}]" if isinstance(value, (str, int)) else ""))
        if not all(isinstance(p, str) for p in self.problems):
            raise ValueError(f"problems: expected a list of problem names, got {self.problems!r}")
        if not all(isinstance(m, str) for m in self.metrics):
            raise ValueError(f"metrics: expected a list of metric names, got {self.metrics!r}")
        if not isinstance(self.metric_options, dict) or not all(isinstance(k, str) for k in self.metric_options):
            raise ValueError(f"metric_options: expected a table of metric options, got {self.metric_options!r}")
        if not isinstance(self.budget, dict):
            raise ValueError(f"budget: expected a table of budget keys (e.g. n_batches = 2000), got {self.budget!r}")
        if not isinstance(self.preset, str):
            raise ValueError(f"preset: expected a training preset name, got {self.preset!r}")
        for key in ("timing_observations", "c2st_observations", "noise_floor_observations", "sbc_observations"):
            P.nonnegative_count(getattr(self, key), key)
        P.count(self.sbc_samples, "sbc_samples")
        if self.threads is not None:
            P.count(self.threads, "threads")
        self.models = [m if isinstance(m, ModelSpec) else ModelSpec.parse(m, f"models[{i}]")
                       for i, m in enumerate(self.models)]
        extra = []
        for i, e in enumerate(self.extra):
            if isinstance(e, tuple):
                extra.append(e)
                continue
            if not isinstance(e, dict) or "problem" not in e:
                raise ValueError(f"extra[{i}]: expected a table with 'problem' and 'model', got {e!r}")
            extra.append((str(e["problem"]), ModelSpec.parse({k: v for k, v in e.items() if k != "problem"},
                                                             f"extra[{i}]")))
        self.extra = extra
        P.count(self.observations, "observations")
        P.count(self.samples, "samples")
        if not self.seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds):
            raise ValueError(f"seeds: expected a non-empty list of non-negative integers, got {self.seeds!r}")
        if self.params is not None:
            P.count(self.params, "params")
        if self.preset not in PRESETS:
            raise ValueError(f"preset: unknown training preset {self.preset!r}; known: {', '.join(PRESETS)}")
        known = {f.name for f in dataclasses.fields(Budget)} - {"params"}
        unknown = set(self.budget) - known
        if unknown:
            raise ValueError(f"budget: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        self.training_budget()  # the budget's own range checks, now rather than in every cell
        if not isinstance(self.simulations, (list, tuple)):
            raise ValueError(f"simulations: expected a list of simulation budgets, got {self.simulations!r}")
        self.simulations = [P.count(n, "simulations") for n in self.simulations]
        if not isinstance(self.simulation_budget, dict):
            raise ValueError(f"simulation_budget: expected a table of SimulationBudget fields, got "
                             f"{self.simulation_budget!r}")
        if self.simulation_budget:
            from ..simbudget import SimulationBudget

            known = {f.name for f in dataclasses.fields(SimulationBudget)} - {"simulations"}
            check_known(self.simulation_budget, known, "simulation_budget", "keys")
            SimulationBudget(simulations=1000, **self.simulation_budget)  # its own range checks
        if self.observation_set not in ("test", "fixed"):
            raise ValueError(f"observation_set: expected 'test' or 'fixed', got {self.observation_set!r}")
        from ..evaluation import check_c2st_options

        check_c2st_options(self.c2st_backend, self.c2st_folds)

    # ------------------------------------------------------------------------------------------
    def select(self, problems=None, models=None, **overrides) -> GridConfig:
        """A copy restricted to ``problems`` and to the ``models`` named by label or model name (their
        extra cells too), with field ``overrides`` applied and validated like a new grid's."""
        g = dataclasses.replace(self, **overrides)  # dataclasses.replace runs __post_init__ again
        if problems:
            g.problems = list(problems)
            g.extra = [(p, s) for p, s in g.extra if p in problems]
        if models:
            g.models = [m for m in g.models if m.label in models or m.model in models]
            g.extra = [(p, s) for p, s in g.extra if s.label in models or s.model in models]
            known = {m.label for m in g.models} | {m.model for m in g.models} | {s.model for _, s in g.extra}
            missing = [m for m in models if m not in known]
            if missing:
                raise ValueError(f"models: {missing} are not in grid {self.name!r}")
        return g

    def training_budget(self) -> Budget:
        """The fixed-batch :class:`innbench.training.Budget`: ``preset`` with ``budget`` and ``params`` applied."""
        return get_budget(self.preset, **self.budget, params=self.params)

    def settings(self) -> dict:
        """Everything besides the cell's own identity that its numbers depend on."""
        out = {
            "budget": dataclasses.asdict(self.training_budget()),
            "observations": self.observations,
            "samples": self.samples,
            "c2st_observations": self.c2st_observations,
        }
        # the settings added with simulation budgets enter only where they differ from the old behaviour,
        # so that the cells of existing grids keep their keys
        if self.simulations:
            out["simulation_budget"] = dict(self.simulation_budget)
        if self.observation_set != "test":
            out["observation_set"] = self.observation_set
        if (self.c2st_backend, self.c2st_folds) != ("torch", 2):
            out["c2st"] = {"backend": self.c2st_backend, "folds": self.c2st_folds}
        if self.sbc_observations:
            out["sbc"] = {"observations": self.sbc_observations, "samples": self.sbc_samples}
        if self.metrics:
            out["metrics"] = list(self.metrics)
        if self.metric_options:
            out["metric_options"] = dict(self.metric_options)
        return out

    def expanded_models(self) -> list[ModelSpec]:
        """The model specs with the simulation budgets applied: one spec per budget for models that train
        (or, like rejection ABC, simulate per query), the spec itself for the others."""
        if not self.simulations:
            return list(self.models)
        from ..models import get_model_class

        out = []
        for spec in self.models:
            cls = get_model_class(spec.model)
            if not (cls.trainable or "simulations" in cls.defaults):
                out.append(spec)
                continue
            out += [dataclasses.replace(spec, label=f"{spec.label}@{budget_label(n)}", simulations=n)
                    for n in self.simulations]
        return out

    def check_names(self) -> None:
        """Import ``imports`` and check every problem and model name, before any work starts."""
        from ..models import get_model_class
        from ..problems import get_problem

        import_plugins(self.imports)
        from ..metrics import default_metric_names, metrics, resolve_options

        # a user's metric registers in the imports, so its names are checked here
        resolve_options(metrics([*default_metric_names(), *self.metrics]), self.metric_options)
        for p in self.problems + [p for p, _ in self.extra]:
            try:
                get_problem(p)
            except KeyError as exc:
                raise ValueError(f"problems: {exc.args[0]}") from None
        for spec in self.models + [s for _, s in self.extra]:
            try:
                cls = get_model_class(spec.model)
            except KeyError as exc:
                raise ValueError(f"models: {exc.args[0]}") from None
            check_known(spec.options, cls.known_options(), f"models: {spec.label!r}")
        if self.observation_set == "fixed":
            for p in self.problems + [p for p, _ in self.extra]:
                fixed = get_problem(p).fixed_observations()
                if fixed is None:
                    raise ValueError(f"observation_set: problem {p!r} has no published fixed observations; "
                                     "use observation_set = 'test'")
                if self.observations > len(fixed[1]):
                    raise ValueError(f"observations: problem {p!r} has {len(fixed[1])} fixed observations, "
                                     f"fewer than {self.observations}")
        from ..simbudget import check_simulation_memory

        for p, spec in [(p, s) for p in self.problems for s in self.expanded_models()] + list(self.extra):
            if spec.simulations is not None:  # a budget that cannot fit is refused before the first cell
                check_simulation_memory(get_problem(p), spec.simulations, "simulations")
        labels = {}
        for spec in self.models + [s for _, s in self.extra]:
            if labels.setdefault(spec.label, spec) != spec:
                raise ValueError(f"models: label {spec.label!r} is used for two different model settings")

    def cells(self) -> list[Cell]:
        """Every (problem, model variant, seed) of the grid and its ``extra`` cells, seed by seed, without
        duplicates. The grid's ``imports`` are imported first: its plugins register the names it uses."""
        import_plugins(self.imports)
        settings = self.settings()
        pairs = [(p, s) for p in self.problems for s in self.expanded_models()] + list(self.extra)
        seen, out = set(), []
        from .. import __version__
        from ..problems import get_problem

        versions = {p: (("innbench", __version__), ("problem", str(get_problem(p).version))) for p, _ in pairs}
        for seed in self.seeds:
            for problem, spec in pairs:
                cell = Cell(self.name, problem, spec, seed, settings, versions[problem])
                if cell.key not in seen:
                    seen.add(cell.key)
                    out.append(cell)
        return out

    def to_dict(self) -> dict:
        """The grid as plain data (stored with every run, passed to :func:`innbench.benchmark.run_cell`)."""
        d = dataclasses.asdict(self)
        d["models"] = [dataclasses.asdict(m) for m in self.models]
        d["extra"] = [{"problem": p, **dataclasses.asdict(s)} for p, s in self.extra]
        return d


def budget_label(n: int) -> str:
    """``1000 -> "1e3"``, ``25000 -> "2.5e4"``: a simulation budget in a label.

    Example:
        >>> from innbench.benchmark.config import budget_label
        >>> budget_label(1000), budget_label(25_000)
        ('1e3', '2.5e4')
    """
    exp = len(str(int(n))) - 1
    mant = n / 10**exp
    return f"{mant:g}e{exp}"


PAPER_MODELS = ["inn", "inn_mmd", "cinn", "iaf", "maf", "iresnet", "invauto", "autoencoder", "cvae", "mdn"]
BEYOND = ["nsf", "flow_matching"]
ABC_BUDGETS = [
    {"model": "rejection_abc", "label": "rejection_abc@1e4", "options": {"simulations": 10_000}},
    {"model": "rejection_abc", "label": "rejection_abc@1e5", "options": {"simulations": 100_000}},
    {"model": "rejection_abc", "label": "rejection_abc@1e6", "options": {"simulations": 1_000_000}},
]
TOY_MODELS = ["inn", "cinn", "mdn"]


def _toy_cells(models):
    return [{"problem": "gaussian_modes", "model": m} for m in models]


#: The quick grid trains the iResNet with the paper's Eq. 3 (``loss="mmd"``): the default maximum-likelihood
#: loss costs 3.7x the training time, which would take the grid past 10 minutes on 2 cores.
_QUICK_MODELS = [{"model": "iresnet", "label": "iresnet", "options": {"loss": "mmd"}} if m == "iresnet" else m
                 for m in PAPER_MODELS]

#: Named grids. ``quick`` runs in minutes on a laptop CPU (600 batches of 256, 30k-parameter networks,
#: 1000 samples per posterior: its numbers show the pipeline, not the models' best; the noise floor of
#: Err_post grows as the sample count shrinks); ``default`` is the benchmark of the README (the paper's
#: protocol with 100k-parameter networks, 4,000 batches of 512, on 500 observations; the paper's ten
#: models, flow matching, the latent-mixture INN and ABC at 10^5 simulations, plus the cINN and the latent-mixture
#: INN on the 8-mode mixture (all and some labels), sized for about 90 minutes on a 2-core CPU with two
#: jobs: the README has the measured time); ``paper`` is the paper's scale (1000 observations, about 3M
#: parameters per model, 6,000 batches, every model and ABC budget, the Gaussian mixture).
GRID_PRESETS: dict[str, dict] = {
    "quick": {
        "name": "quick", "problems": ["kinematics", "ballistics"], "models": _QUICK_MODELS + ABC_BUDGETS[:2],
        "preset": "quick", "budget": {"n_train": 200_000, "n_batches": 2000, "batch_size": 256}, "params": 30_000,
        "observations": 50, "samples": 1000, "timing_observations": 5, "c2st_observations": 2,
        "noise_floor_observations": 50,
    },
    "default": {
        "name": "default", "problems": ["kinematics", "ballistics"],
        "models": PAPER_MODELS + ["flow_matching", "latent_mixture_inn"] + ABC_BUDGETS[1:2],
        "preset": "default", "budget": {"n_batches": 4000}, "params": 100_000, "observations": 500,
        "timing_observations": 20,
        "c2st_observations": 5,
        "extra": [{"problem": p, "model": m} for p in ("gaussian_modes", "gaussian_modes_some")
                  for m in ("cinn", "latent_mixture_inn")],
    },
    "paper": {
        "name": "paper", "problems": ["kinematics", "ballistics"], "models": PAPER_MODELS + BEYOND + ABC_BUDGETS,
        "preset": "default", "params": 3_000_000, "observations": 1000, "timing_observations": 50,
        "c2st_observations": 50,
        "extra": _toy_cells(TOY_MODELS),
    },
}


#: The sbi grid: sbibm's tasks (their ten published observations each, exact or MCMC references), the conditional
#: models, neural likelihood and ratio estimation (MCMC per query on a learned likelihood or likelihood ratio), the
#: sequential estimators TSNPE and SNLE (rounds per observation, each spending the cell's budget) and
#: both non-amortized baselines
#: at 10^3 / 10^4 / 10^5 simulations, each model's own default size,
#: 10,000 samples per posterior and sbibm's C2ST protocol (5 folds) with the fast classifier. Training stops
#: after at most 20,000 steps (about 110 epochs at 10^5 simulations) so that the grid fits in hours on 2 cores.
SBI_TASKS = ["two_moons", "gaussian_linear", "gaussian_mixture", "slcp", "bernoulli_glm", "sir", "lotka_volterra"]
#: rejection ABC as sbibm runs it: the 100 nearest simulations, then a kernel density estimate for the samples
SBI_MODELS = ["cinn", "nsf", "flow_matching", "mdn", "maf", "cvae", "nle", "nre_c", "bnre", "npse", "cmpe", "tsnpe",
              "snle", {"model": "rejection_abc", "label": "rejection_abc", "options": {"keep": 100}}, "mcmc"]
GRID_PRESETS["sbi"] = {
    "name": "sbi", "problems": SBI_TASKS, "models": SBI_MODELS, "simulations": [1000, 10_000, 100_000],
    "simulation_budget": {"max_steps": 20_000}, "observation_set": "fixed", "observations": 10, "samples": 10_000,
    "timing_observations": 2, "c2st_observations": 10, "c2st_folds": 5, "noise_floor_observations": 10,
}

#: The structured grid: observations that are series (the epidemic, 80 days of cases and deaths) or sets (a
#: Gaussian's mean and covariance from 5-100 draws), read by each conditional model through its summary
#: network, at 10^3 and 10^4 simulations. Scored on each problem's ten fixed observations (MCMC or exact
#: references, 10,000 samples, sbibm's C2ST protocol); calibrated (SBC, coverage) on 200 test draws of their
#: own, which need no reference. Training stops after at most 10,000 steps. ``cinn_x4``: an ensemble of four
#: cINNs on the same simulations (``members=4``; chosen on
#: validation draws: docs/journal/recipes_in_code.md#structured-grid).
STRUCTURED_PROBLEMS = ["epidemic", "gaussian_set"]
STRUCTURED_MODELS = SBI_MODELS[:6] + [{"model": "cinn", "label": "cinn_x4", "options": {"members": 4}}]
GRID_PRESETS["structured"] = {
    "name": "structured", "problems": STRUCTURED_PROBLEMS, "models": STRUCTURED_MODELS, "simulations": [1000, 10_000],
    "simulation_budget": {"max_steps": 10_000}, "observation_set": "fixed", "observations": 10, "samples": 10_000,
    "timing_observations": 2, "c2st_observations": 10, "c2st_folds": 5, "noise_floor_observations": 10,
    "sbc_observations": 200, "sbc_samples": 1000,
}


def get_grid(preset: str, **overrides) -> GridConfig:
    """A named grid (:data:`GRID_PRESETS`: ``quick``, ``default``, ``paper``, ``sbi``, ``structured``) with fields
    overridden.

    Args:
        preset: the grid's name.
        **overrides: :class:`GridConfig` fields to change (validated like a new grid's).

    Returns:
        The :class:`GridConfig`.

    Example:
        >>> from innbench.benchmark import get_grid
        >>> grid = get_grid("quick", seeds=[0, 1])
        >>> grid.problems, grid.seeds, len(grid.cells())
        (['kinematics', 'ballistics'], [0, 1], 48)
    """
    if preset not in GRID_PRESETS:
        raise ValueError(f"preset: unknown grid {preset!r}; known grids are {', '.join(GRID_PRESETS)}")
    return GridConfig(**{**GRID_PRESETS[preset], **overrides})


def load_grid(path) -> GridConfig:
    """Read a grid from a TOML file (keys as in :class:`GridConfig`; ``base = "quick"`` starts from a preset).

    Plugin files in ``imports`` are found relative to the working directory, else to the file. The grid's
    name defaults to the file's name.

    Args:
        path: the TOML file.

    Returns:
        The :class:`GridConfig`; a ``ValueError`` names what is wrong with the file.

    Example:
        >>> import pathlib, tempfile
        >>> from innbench.benchmark import load_grid
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "small.toml"
        >>> _ = path.write_text('''
        ... base = "quick"
        ... problems = ["kinematics"]
        ... models = ["cinn", {model = "cinn", label = "cinn_6", options = {blocks = 6}}]
        ... seeds = [0, 1]
        ... ''')
        >>> grid = load_grid(path)
        >>> grid.name, [m.label for m in grid.models], len(grid.cells())
        ('small', ['cinn', 'cinn_6'], 4)
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config: file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config: {str(path)!r} is not valid TOML ({exc})") from None
    base = data.pop("base", None)
    known = {f.name for f in dataclasses.fields(GridConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"config: unknown keys {sorted(unknown)} in {str(path)!r}; known: {sorted(known)}")
    data.setdefault("name", path.stem)
    # plugin files are found relative to the working directory, else to the config file
    data["imports"] = [str(p if (p := Path(m)).is_absolute() or p.exists() else path.parent / p)
                       if str(m).endswith(".py") else m for m in data.get("imports", [])]
    if base is not None:
        if base not in GRID_PRESETS:
            raise ValueError(f"config: base {base!r} is not a grid preset ({', '.join(GRID_PRESETS)})")
        data = {**GRID_PRESETS[base], **data}
    try:
        return GridConfig(**data)
    except TypeError as exc:
        raise ValueError(f"config: {exc}") from None
