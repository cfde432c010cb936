"""`zoo federate`: fine-tuning across sites that keep their data, on Flower's simulation engine
(or on its deployment engine, across machines: `zoo federate --coordinator`, see `flower_deploy`).

Each site is a Flower `ClientApp` that reads only its own data (through the plugin's
`DataAdapter`, as `zoo finetune` does) and trains the same assembled model (same strategy,
head, recipe) for `local_epochs` per round. The coordinator is a Flower `ServerApp` running
one of Flower's strategies:

- `fedavg`: the sites' weights averaged by sample count (McMahan et al. 2017);
- `fedprox`: FedAvg whose sites add `mu / 2 * sum ||w - w_global||^2` to their loss: the L2-SP
  form of the seed's `lambda * L_pretrain`, with the round's global model as the anchor
  (Li et al. 2020);
- `fedbn`: FedAvg with batch normalisation left out of what travels, so its scale, shift and
  statistics stay at each site (Li et al. 2021).

Only the weights that train travel (a linear probe sends its head, LoRA its adapters); the bytes
of every message are counted from Flower's own records. `--dp-noise` / `--dp-clip` wrap the
strategy in Flower's client-side fixed-clipping differential privacy (updates clipped at the site,
Gaussian noise added to the aggregate). `--secure-aggregation` runs Flower's SecAgg+ protocol in each
training round (Bell et al. 2020): a site sends its update masked, and the coordinator learns only
the sum over the sites, never one site's update (see `_SecureGrid`).

The coordinator holds a held-out set (`--data`, by default the plugin's demo): the data-fitted
preprocessing is fitted there and sent to the sites with each round's configuration, and the
final model is evaluated on it. The result is an ordinary run folder (`model.keras`, `zoo.json`
with `federated: {...}`, `history.csv` with one row per round, plots, model card) that
`zoo evaluate`, `zoo export` and `zoo predict` take unchanged.

Example:

```python
from zoo import registry
from zoo.training.federated import Federation, federate, parse_sites

plugin = registry.get_plugin("tabular-fraud")
recipe = plugin.resolve_recipe(overrides={"max_samples": 400})
result = federate(plugin, recipe, Federation(parse_sites((), demo_sites=3), rounds=3))
```
"""

from __future__ import annotations

import io
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ConfigError, DataError, ZooError
from zoo.training import rundir
from zoo.training.recipe import Recipe

log = logging.getLogger(__name__)

AGGREGATIONS = ("fedavg", "fedprox", "fedbn")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
INSTALL = "pip install 'keras-zoo[federated]'"


@dataclass(frozen=True)
class Site:
    """A federation member: its own data source, or a shard of the demo's training split."""

    name: str
    data: str | None = None
    shard: tuple[int, int] | None = None  # (index, count): every count-th demo sample from index
    description: str = ""  # what sets a demo site apart (its scanner, its fraud rate)

    def describe(self) -> dict:
        if self.shard is not None:
            return {"name": self.name, "data": f"demo shard {self.shard[0] + 1} of {self.shard[1]}",
                    "shard": list(self.shard)}
        if self.data is None:  # a deployed site: its data stays on its machine, named there (zoo site --data)
            return {"name": self.name, "data": None}
        out = {"name": self.name, "data": self.data}
        if self.description:
            out["demo"] = self.description
        return out

    @classmethod
    def from_json(cls, entry: dict) -> Site:
        if entry.get("shard"):
            return cls(entry["name"], shard=tuple(entry["shard"]))
        return cls(entry["name"], data=entry.get("data"), description=entry.get("demo", ""))


@dataclass
class Federation:
    """How the sites train together (see `zoo federate --help`)."""

    sites: list[Site]
    rounds: int = 5
    local_epochs: int = 1
    aggregation: str = "fedavg"
    mu: float = 0.01
    min_sites: int | None = None
    dp_noise: float | None = None
    dp_clip: float | None = None
    timeout_s: float = 3600.0
    secure: bool = False  # SecAgg+: the coordinator sees only the sum of the sites' updates
    # the best round kept, early stopping on it: {"monitor", "mode", "patience", "min_rounds"} (zoo finetune's
    # best epoch and early stopping, over rounds and the sites' validation metrics); None keeps the last round
    watch: dict | None = None
    extra: dict = field(default_factory=dict)
    coordinator: Any = None  # a `flower_deploy.Coordinator`: Flower's deployment engine instead of its simulation

    def validate(self) -> None:
        if len(self.sites) < 2:
            raise ConfigError("a federation needs at least 2 sites: give --site NAME=DATA twice or more, "
                              "or --demo-sites N")
        names = [s.name for s in self.sites]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise ConfigError(f"--site {dup!r} is given twice; site names must differ")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"--aggregation {self.aggregation!r} is not one of: {', '.join(AGGREGATIONS)}")
        for key in ("rounds", "local_epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"--{key.replace('_', '-')} must be at least 1, got {getattr(self, key)}")
        if self.mu < 0:
            raise ConfigError(f"--mu must be >= 0, got {self.mu}")
        if self.min_sites is not None and not 1 <= self.min_sites <= len(self.sites):
            raise ConfigError(f"--min-sites must be between 1 and the {len(self.sites)} sites, got {self.min_sites}")
        if (self.dp_noise is None) != (self.dp_clip is None):
            raise ConfigError("differential privacy needs both --dp-noise (noise multiplier) and --dp-clip "
                              "(clipping norm)")
        if self.secure and self.min_sites == 1:
            raise ConfigError("--secure-aggregation needs --min-sites of at least 2: the sum of one site's update "
                              "is that update; give --min-sites 2 or more, or drop --secure-aggregation")
        if self.dp_noise is not None and (self.dp_noise < 0 or self.dp_clip <= 0):
            raise ConfigError(f"--dp-noise must be >= 0 and --dp-clip > 0, got {self.dp_noise} and {self.dp_clip}")

    @classmethod
    def from_json(cls, fed: dict) -> Federation:
        """The federation a run's `zoo.json` recorded (what `--resume` continues)."""
        dp = fed.get("differential_privacy") or {}
        coordinator = None
        if fed.get("coordinator"):
            from zoo.training.flower_deploy import Coordinator

            coordinator = Coordinator.from_json(fed["coordinator"])
        return cls([Site.from_json(s) for s in fed["sites"]], rounds=int(fed["rounds"]),
                   local_epochs=int(fed["local_epochs"]), aggregation=fed["aggregation"], mu=float(fed.get("mu", 0.01)),
                   min_sites=fed.get("min_sites"), dp_noise=dp.get("noise_multiplier"), dp_clip=dp.get("clipping_norm"),
                   secure=bool(fed.get("secure_aggregation")), watch=fed.get("keeps_best_round"),
                   coordinator=coordinator)

    def to_json(self) -> dict:
        engine = "flower simulation" if self.coordinator is None else "flower deployment"
        out = {"engine": engine, "aggregation": self.aggregation, "rounds": self.rounds,
               "local_epochs": self.local_epochs, "min_sites": self.min_sites or len(self.sites),
               "sites": [s.describe() for s in self.sites]}
        if self.coordinator is not None:
            out["coordinator"] = self.coordinator.to_json()
        if self.aggregation == "fedprox":
            out["mu"] = self.mu
        if self.dp_noise is not None:
            out["differential_privacy"] = {"kind": "client-side fixed clipping, Gaussian noise on the aggregate",
                                           "noise_multiplier": self.dp_noise, "clipping_norm": self.dp_clip}
        if self.watch:
            out["keeps_best_round"] = dict(self.watch)
        if self.secure:
            out["secure_aggregation"] = {
                "protocol": "SecAgg+ (Flower's SecAggPlusWorkflow and secaggplus_mod)",
                "what_is_masked": "each site's update (its trained weights minus the round's global weights), "
                                  "weighted by its sample count; the coordinator unmasks only the sum",
                "reconstruction_threshold": self.secure_threshold(),
                "clipping_range": SECURE_CLIPPING_RANGE, "quantization_range": SECURE_QUANTIZATION_RANGE}
        return out

    def secure_threshold(self) -> int:
        """Sites whose key shares unmask a round: `--min-sites` (at least 2); fewer sites left and the
        round cannot be unmasked."""
        return max(2, self.min_sites or len(self.sites))


def parse_sites(pairs: tuple[str, ...] | list[str], demo_sites: int | None = None,
                deployed: bool = False) -> list[Site]:
    """`("a=data/a", "b=data/b")` -> sites; `demo_sites=N`: the demo's training split in N shards.

    `deployed` (`zoo federate --coordinator`): sites are names alone (`("a", "b")`); each names its own
    data where it runs (`zoo site --data`).
    """
    if pairs and demo_sites:
        raise ConfigError("give either --site NAME=DATA (repeatable) or --demo-sites N, not both")
    if deployed:
        if demo_sites is not None:
            raise ConfigError("--demo-sites runs in one process tree; with --coordinator, start zoo site at each "
                              "site and give --site NAME for each")
        for pair in pairs:
            if "=" in pair:
                raise ConfigError(f"--site {pair!r}: with --coordinator a site's data stays at the site; give "
                                  f"--site {pair.partition('=')[0].strip()} here and zoo site --data DATA there")
            if not _NAME.match(pair.strip()):
                raise ConfigError(f"--site {pair!r}: the name must be letters, digits, '.', '_' or '-' "
                                  "(up to 64, starting with a letter or digit)")
        return [Site(pair.strip()) for pair in pairs]
    if demo_sites is not None:
        if demo_sites < 2:
            raise ConfigError(f"--demo-sites must be at least 2, got {demo_sites}")
        return [Site(f"site{i + 1}", shard=(i, demo_sites)) for i in range(demo_sites)]
    sites = []
    for pair in pairs:
        name, sep, data = pair.partition("=")
        name, data = name.strip(), data.strip()
        if not sep or not data:
            raise ConfigError(f"--site {pair!r} must look like NAME=DATA (a name, then the site's data source)")
        if not _NAME.match(name):
            raise ConfigError(f"--site {pair!r}: the name must be letters, digits, '.', '_' or '-' "
                              "(up to 64, starting with a letter or digit)")
        sites.append(Site(name, data=data))
    return sites


def plugin_demo_sites(plugin, recipe: Recipe, sites: list[Site]) -> list[Site]:
    """`--demo-sites N` on a plugin whose adapter writes its own sites (`DataAdapter.write_sites`): those sites,
    written once into the cache (`$KERAS_ZOO_CACHE/federated-sites/`) and read back like any site's data.
    Other sites, and plugins without the hook, stay as given (shards of the demo's training split)."""
    if not sites or any(s.shard is None for s in sites) or getattr(plugin.data, "write_sites", None) is None:
        return sites
    import hashlib
    import json

    from zoo import contract
    from zoo.data import cache_dir, write_once

    options = plugin.options_for(recipe)
    key = json.dumps({"plugin": plugin.name, "version": plugin.version, "sites": len(sites), "seed": recipe.seed,
                      "options": {k: options[k] for k in sorted(options)}}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    target = cache_dir("federated-sites") / f"{plugin.name}-{len(sites)}-{digest}"

    def write(folder: Path) -> None:
        written = contract.write_sites(plugin, folder, len(sites), recipe, options)
        listed = [{"source": Path(source).resolve().relative_to(folder.resolve()).as_posix(), "description": about}
                  for source, about in written]
        (folder / "sites.json").write_text(json.dumps({"key": json.loads(key), "sites": listed}, indent=2) + "\n")

    write_once(target, write, note=f"{plugin.name} demo sites")
    listed = json.loads((target / "sites.json").read_text())["sites"]
    return [Site(site.name, data=str(target / item["source"]), description=item["description"])
            for site, item in zip(sites, listed)]


def require_flower(simulation: bool = True) -> None:
    """`ConfigError` naming the extra when Flower (or, for `simulation`, its simulation engine) is missing."""
    import importlib.util

    for module in ("flwr", "ray") if simulation else ("flwr",):
        if importlib.util.find_spec(module) is None:
            engine = "simulation" if simulation else "deployment"
            raise ConfigError(f"zoo federate runs on Flower's {engine} engine, and {module!r} is not installed; "
                              f"{INSTALL}")


# --------------------------------------------------------------------------- site data

def site_splits(plugin, recipe: Recipe, site: Site):
    """`(train, validation, class_names, input_signature)` of one site, unbatched datasets."""
    from zoo.training.finetune import limit, load_data

    try:
        bundle = load_data(plugin, recipe, site.data)
    except ZooError as exc:
        raise type(exc)(f"site {site.name!r}: {exc}") from None
    train, validation = bundle.train, bundle.validation
    if site.shard is not None:
        index, count = site.shard

        def shard(ds):
            return ds.enumerate().filter(lambda i, _xy: i % count == index).map(lambda _i, xy: xy)

        train, validation = shard(train), shard(validation)
    return limit(train, recipe.max_samples), limit(validation, recipe.max_samples), bundle


def describe_site(plugin, recipe: Recipe, site: Site) -> dict:
    """What a site tells the coordinator before the first round: its classes, inputs and sample counts
    (no samples), and `error` when its labels cannot train (read where the site's data is)."""
    from zoo.training.finetune import labels_of

    train, validation, bundle = site_splits(plugin, recipe, site)
    y_train, y_val = labels_of(train), labels_of(validation)
    out = {"classes": list(bundle.class_names), "inputs": {k: v.to_json() for k, v in bundle.input_signature.items()},
           "train": int(len(y_train)), "validation": int(len(y_val)), "missing": [], "error": None}
    if len(y_train):
        try:
            plugin.task.check_labels(y_train, bundle.class_names, f"site {site.name!r} training")
        except ZooError as exc:
            out["error"] = str(exc)
        prior = plugin.task.class_prior(y_train, len(bundle.class_names))
        if prior is not None:
            out["missing"] = [name for name, share in zip(bundle.class_names, np.ravel(prior)) if share <= 0]
    return out


def check_described(name: str, described: dict, classes: list, inputs: dict) -> dict[str, int]:
    """`DataError` naming the site when its description (`describe_site`) cannot join the federation."""
    if described["classes"] != list(classes):
        raise DataError(f"site {name!r} has classes {described['classes']}, the coordinator's data "
                        f"{list(classes)}; every site must label the same classes (fix its data or its class list)")
    if described["inputs"] != inputs:
        raise DataError(f"site {name!r} gives inputs {described['inputs']}, the coordinator's data {inputs}; every "
                        "site must give the same inputs (same columns, image size, sequence length)")
    if not described["train"]:
        raise DataError(f"site {name!r} has no training samples; give it data or leave it out")
    if described["error"]:
        raise DataError(described["error"])
    if described["missing"]:
        raise DataError(f"site {name!r} has no training samples of class {described['missing'][0]!r}; every site "
                        "needs each class (add samples, or merge this site with another)")
    return {"train": described["train"], "validation": described["validation"]}


def coordinator_expects(coordinator) -> tuple[list, dict]:
    """`(class names, input signature as JSON)` that every site must match."""
    return list(coordinator.class_names), {k: v.to_json() for k, v in coordinator.input_signature.items()}


def check_sites(plugin, recipe: Recipe, sites: list[Site], coordinator) -> dict[str, dict[str, int]]:
    """Read every site before the first round; `DataError` naming the site when the federation cannot work.

    Returns the sample counts per site (what the model card says left each site: counts only).
    """
    classes, inputs = coordinator_expects(coordinator)
    return {site.name: check_described(site.name, describe_site(plugin, recipe, site), classes, inputs)
            for site in sites}


# --------------------------------------------------------------------------- what travels

def _batchnorm_layers(model) -> list:
    import keras

    from zoo.strategies.freeze import nested_layers

    return nested_layers(model, lambda layer: isinstance(layer, keras.layers.BatchNormalization))


def travelling(model, aggregation: str, statistics_train: bool = False) -> list[int]:
    """Indices into `model.weights` of what a site sends: the trainable weights, and, when batch norm updates its
    statistics (`--batchnorm train`), the moving statistics of the batch norm that trains (FedBN: no batch norm
    at all)."""
    trainable = {id(w) for w in model.trainable_weights}
    local: set[int] = set()
    statistics: set[int] = set()
    for layer in _batchnorm_layers(model):
        if aggregation == "fedbn":
            local.update(id(w) for w in layer.weights)
        elif statistics_train and any(id(w) in trainable for w in layer.weights):
            statistics.update(id(w) for w in layer.non_trainable_weights)
    return [i for i, w in enumerate(model.weights)
            if (id(w) in trainable or id(w) in statistics) and id(w) not in local]


def moving_statistics(recipe: Recipe, private: bool) -> bool:
    """Whether batch-norm statistics travel: only when they update, and never under differential privacy
    (noise would make a variance negative)."""
    return recipe.batchnorm == "train" and not private


def batchnorm_indices(model) -> list[int]:
    """Indices into `model.weights` of every batch-norm weight (what FedBN keeps at each site)."""
    ids = {id(w) for layer in _batchnorm_layers(model) for w in layer.weights}
    return [i for i, w in enumerate(model.weights) if id(w) in ids]


def base_indices(model, preprocessing) -> list[int]:
    """Indices of the data-fitted preprocessing's weights: fitted on the coordinator's data, sent to the sites."""
    if preprocessing is None:
        return []
    fitted = {id(w) for w in preprocessing.weights}
    return [i for i, w in enumerate(model.weights) if id(w) in fitted]


def pack(values: dict[int, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": v for i, v in values.items()})
    return buffer.getvalue()


def unpack(blob: bytes) -> dict[int, np.ndarray]:
    with np.load(io.BytesIO(blob)) as data:
        return {int(k[1:]): data[k] for k in data.files}


def arrays_record(indices, values):
    """A Flower `ArrayRecord` of weights keyed by their index in `model.weights`."""
    from flwr.app import Array, ArrayRecord

    return ArrayRecord({f"w{i}": Array(np.asarray(v)) for i, v in zip(indices, values)})


def record_values(record) -> dict[int, np.ndarray]:
    """An `arrays_record` back as `{index: array}`, by its keys: a record that crossed the network may list
    its arrays in another order (same-shaped weights, such as batch norm's four, would swap silently)."""
    return {int(key[1:]): array.numpy() for key, array in record.items()}


def set_indexed(model, arrays: dict[int, np.ndarray]) -> None:
    weights = model.weights
    for i, value in arrays.items():
        if tuple(weights[i].shape) != tuple(value.shape):
            raise ZooError(f"weight {weights[i].path}: the coordinator sent shape {value.shape}, the site's model "
                           f"has {tuple(weights[i].shape)}; the sites run different plugin versions or recipes")
        weights[i].assign(value)


# --------------------------------------------------------------------------- a site

class _Local:
    """One site's model, trainer and data, built once per process and kept across rounds."""

    def __init__(self, plugin_name: str, recipe_dict: dict, site: Site, federation: dict):
        import keras
        from pathlib import Path

        from zoo import registry
        from zoo.training.finetune import (assemble, batched, compile_metrics, labels_of, make_loss,
                                           make_optimizer)

        plugin = registry.get_plugin(plugin_name)
        recipe = plugin.resolve_recipe(base=recipe_dict)
        keras.utils.set_random_seed(recipe.seed)
        train, validation, bundle = site_splits(plugin, recipe, site)
        y_train = labels_of(train)
        self.n_train = int(len(y_train))
        self.n_val = int(len(labels_of(validation)))
        prior = plugin.task.class_prior(y_train, len(bundle.class_names))
        self.parts = assemble(plugin, recipe, bundle, prior)
        model = self.parts.model
        self.travel = travelling(model, federation["aggregation"], moving_statistics(recipe, federation["private"]))
        self.site = site
        self.state = None
        if federation["aggregation"] == "fedbn":  # the site's own batch norm, on the site's own disk
            self.state = Path(federation["site_dir"]) / site.name / "batchnorm.weights.npz"
            self.kept = batchnorm_indices(model)
            if self.state.is_file():  # a site that restarted, or a resumed federation: its own batch norm again
                with np.load(self.state) as saved:
                    set_indexed(model, {i: saved[f"w{i}"] for i in self.kept})
        steps = max(1, math.ceil(self.n_train / recipe.batch_size))
        schedule = Recipe(**{**recipe.to_dict(), "epochs": federation["rounds"] * federation["local_epochs"]})
        self.trainer = ProximalModel(self.parts.dual, self.parts.backbone.name, recipe.regularizer, recipe.reg_weight,
                                     exclude=[layer.name for layer in self.parts.plan.neck],
                                     anchored=[model.weights[i] for i in self.travel])
        self.trainer.compile(optimizer=make_optimizer(schedule, steps), loss=make_loss(plugin.task, recipe),
                             metrics=compile_metrics(plugin.task))
        self.train_ds = batched(train, recipe, training=True, augment=bundle.augment, size=self.n_train)
        self.val_ds = batched(validation, recipe, training=False)
        self.local_epochs = federation["local_epochs"]
        self.first_round, self.steps = federation.get("first_round", 0), steps
        self.epoch = self.first_round * self.local_epochs  # a resumed federation's schedule goes on
        self.trainer.optimizer.iterations.assign(self.epoch * steps)
        # the optimizer's moments, on the site's disk after each round: a site process started afresh (the
        # deployment engine starts one per message; a killed one restarts) goes on where the last one stopped
        self.moments = Path(federation["site_dir"]) / site.name / "optimizer.npz"
        if self.moments.is_file():
            optimizer = self.trainer.optimizer
            optimizer.build(self.trainer.trainable_variables)
            with np.load(self.moments) as saved:
                values = [saved[f"v{i}"] for i in range(len(saved.files))]
            if [v.shape for v in values] == [tuple(var.shape) for var in optimizer.variables]:
                for var, value in zip(optimizer.variables, values):
                    var.assign(value)
        self.based = False

    def receive(self, arrays, config) -> None:
        model = self.parts.model
        if not self.based and "base" in config:
            set_indexed(model, unpack(config["base"]))
            self.based = True
        values = record_values(arrays)
        set_indexed(model, values)

    def train(self, mu: float, server_round: int) -> dict[str, float]:
        epoch = (self.first_round + server_round - 1) * self.local_epochs
        if epoch != self.epoch:  # a site process started afresh mid-federation: its place in the schedule
            self.epoch = epoch
            self.trainer.optimizer.iterations.assign(epoch * self.steps)
        self.trainer.anchor(mu)
        history = self.trainer.fit(self.train_ds, epochs=self.epoch + self.local_epochs, initial_epoch=self.epoch,
                                   verbose=0, shuffle=False)
        self.epoch += self.local_epochs
        from zoo.training.callbacks import write_npz

        if self.state is not None:
            weights = self.parts.model.weights
            write_npz(self.state, {f"w{i}": np.asarray(weights[i].numpy()) for i in self.kept})
        write_npz(self.moments, {f"v{i}": np.asarray(var.numpy())
                                 for i, var in enumerate(self.trainer.optimizer.variables)})
        last = {k: float(v[-1]) for k, v in history.history.items()}
        return last

    def evaluate(self) -> dict[str, float]:
        if not self.n_val:
            return {}
        return {f"val_{k}": float(v) for k, v in self.trainer.evaluate(self.val_ds, verbose=0, return_dict=True).items()}

    def outgoing(self) -> list[np.ndarray]:
        weights = self.parts.model.weights
        return [np.asarray(weights[i].numpy()) for i in self.travel]


def _proximal_class():
    from keras import ops

    from zoo.strategies.regularizers import FinetuneModel, _Constants

    class ProximalModel(FinetuneModel):
        """`FinetuneModel` plus FedProx's term: `mu / 2 * sum ||w - w_global||^2` over what travels."""

        def __init__(self, *args, anchored=(), **kwargs):
            import keras

            super().__init__(*args, **kwargs)
            self._anchored = _Constants(list(anchored))
            self._global = _Constants([keras.Variable(ops.copy(w.value), trainable=False) for w in anchored])
            self._mu = _Constants(keras.Variable(0.0, trainable=False, name="proximal_mu"))

        def anchor(self, mu: float) -> None:
            """The weights just received are the round's global model."""
            for var, w in zip(self._global.values, self._anchored.values):
                var.assign(w.value)
            self._mu.values.assign(float(mu))

        def call(self, inputs, training=False):
            outputs = super().call(inputs, training=training)
            if training and self._anchored.values:
                terms = [ops.sum(ops.square(ops.cast(w.value, "float32") - ops.cast(g.value, "float32")))
                         for w, g in zip(self._anchored.values, self._global.values)]
                self.add_loss(0.5 * self._mu.values.value * ops.sum(ops.stack(terms)))
            return outputs

    return ProximalModel


def ProximalModel(*args, **kwargs):  # noqa: N802 - a class built on first use (Keras imports lazily)
    return _proximal_class()(*args, **kwargs)


_LOCAL: dict[str, _Local] = {}  # per process: the sites this process serves


def client_app(plugin_name: str, recipe_dict: dict, sites: list[Site], federation: dict, dp: bool):
    """The Flower `ClientApp` every simulated site runs (site = the node's partition id)."""

    def locate(context) -> tuple[int, Site, str, dict, dict]:
        index = int(context.node_config["partition-id"])
        return index, sites[index], plugin_name, recipe_dict, federation

    return site_app(locate, private=lambda _context: dp)


def site_app(locate, private):
    """A Flower `ClientApp` for the sites. `locate(context)` gives `(site index, Site, plugin name, recipe,
    federation)`; `private(context)`: whether updates are clipped at the site (differential privacy).

    It answers three messages: `query` (the site's classes, inputs and sample counts, checked before the
    first round), `train` and `evaluate`.
    """
    import json

    from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.clientapp.mod import fixedclipping_mod

    def clipping(msg, context, call_next):
        if msg.metadata.message_type == "train" and private(context):
            return fixedclipping_mod(msg, context, call_next)
        return call_next(msg, context)

    def secure(msg, context, call_next):  # SecAgg+'s stages (a coordinator running --secure-aggregation)
        if msg.metadata.message_type == "train" and SECAGG_RECORD in msg.content.config_records:
            from flwr.client.mod import secaggplus_mod

            return secaggplus_mod(msg, context, lambda inner, ctx: _masked_train(inner, ctx, call_next))
        return call_next(msg, context)

    app = ClientApp(mods=[secure, clipping])

    def local(context: Context) -> tuple[int, _Local]:
        index, site, plugin_name, recipe_dict, federation = locate(context)
        if site.name not in _LOCAL:
            _LOCAL[site.name] = _Local(plugin_name, recipe_dict, site, federation)
        return index, _LOCAL[site.name]

    @app.query()
    def query(msg: Message, context: Context):
        from zoo import registry

        index = -1
        try:
            index, site, plugin_name, recipe_dict, _ = locate(context)
            plugin = registry.get_plugin(plugin_name)
            described = describe_site(plugin, plugin.resolve_recipe(base=recipe_dict), site)
        except ZooError as exc:  # unreadable data, a plugin missing here, a name not listed: the coordinator says
            described = {"error": str(exc)}
        return Message(RecordDict({"metrics": MetricRecord({"site": index}),
                                   "config": ConfigRecord({"described": json.dumps(described)})}), reply_to=msg)

    @app.train()
    def train(msg: Message, context: Context):
        index, here = local(context)
        config = msg.content["config"]
        here.receive(msg.content["arrays"], config)
        logs = here.train(float(config.get("proximal-mu", 0.0)), int(config.get("server-round", 1)))
        metrics = {"num-examples": here.n_train, "site": index, **logs}
        return Message(RecordDict({"arrays": arrays_record(here.travel, here.outgoing()),
                                   "metrics": MetricRecord(metrics)}), reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context):
        index, here = local(context)
        here.receive(msg.content["arrays"], msg.content["config"])
        metrics = {"num-examples": max(here.n_val, 1), "site": index, **here.evaluate()}
        return Message(RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)

    return app


def _masked_train(msg, context, call_next):
    """A site's training inside SecAgg+'s masking stage: the round's instructions arrive as Flower's legacy
    `FitIns`; the site trains as in any round (`call_next`: differential privacy's clipping, then `train`) and
    answers its update (trained minus received weights) as a legacy `FitRes`, which `secaggplus_mod` masks."""
    from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
    from flwr.compat.common import recorddict_compat as compat

    config = dict(msg.content.config_records["fitins.config"])
    keys = str(config.pop(SECURE_KEYS)).split(",")
    start = msg.content.array_records["fitins.parameters"].to_numpy_ndarrays()
    msg.content = RecordDict({"arrays": ArrayRecord({k: Array(a) for k, a in zip(keys, start)}),
                              "config": ConfigRecord(config)})
    reply = call_next(msg, context)
    if reply.has_error():
        return reply
    trained = reply.content["arrays"]
    update = [(trained[k].numpy() - a).astype(a.dtype) for k, a in zip(keys, start)]
    metrics = dict(reply.content["metrics"])
    reply.content = compat.fitres_to_recorddict(
        FitRes(status=Status(Code.OK, ""), parameters=ndarrays_to_parameters(update),
               num_examples=int(metrics["num-examples"]), metrics=metrics), keep_input=True)
    return reply


# --------------------------------------------------------------------------- the coordinator

SECAGG_RECORD = "secaggplus_configs"  # the config record of SecAgg+'s messages (flwr's RECORD_KEY_CONFIGS)
SECURE_KEYS = "zoo-secure-keys"  # the travelling weights' keys, in the order of a masked update
SECURE_CLIPPING_RANGE = 8.0  # an update's entries are clipped to +-this before they are quantised and masked
SECURE_QUANTIZATION_RANGE = 2 ** 22  # integer levels over the clipping range (a step of 3.8e-6)


class _RoundInstructions:
    """What Flower's `SecAggPlusWorkflow` asks of a legacy `Strategy` for one round: the sites and their
    instructions (`configure_fit`), and, at the end, the unmasked mean (`aggregate_fit`, kept here)."""

    def __init__(self, nodes: list[int], fitins):
        self.nodes, self.fitins = nodes, fitins
        self.results: list | None = None
        self.failures: list = []

    def configure_fit(self, server_round, parameters, client_manager):
        from types import SimpleNamespace

        return [(SimpleNamespace(node_id=node), self.fitins) for node in self.nodes]

    def aggregate_fit(self, server_round, results, failures):
        self.results, self.failures = list(results), list(failures)
        return (self.results[0][1].parameters if self.results else None), {}


class _SecureGrid:
    """A grid whose training rounds run Flower's SecAgg+ protocol with the sites the strategy picked.

    The strategy (FedAvg, FedProx, either wrapped in differential privacy) sends its round's training
    messages as in any round. This grid runs SecAgg+'s four stages with those sites instead: setup
    (keys), key sharing, masked updates (each site trains, then sends its update weighted by its sample
    count, quantised and masked), and unmasking (the sites' key shares remove the masks of the sum, the
    masks of a site that dropped out included when `reconstruction_threshold` sites remain). The
    coordinator learns the sample-weighted mean update and each site's metrics, never one site's
    weights. It answers the strategy with each site's reply carrying the round's global weights plus
    that mean, so the strategy's aggregation (of identical arrays) gives it back, and differential
    privacy adds its noise to it as it would to a plain mean.

    `traffic[server_round]`: the protocol's bytes, up and down, over its four stages.
    """

    def __init__(self, grid, federation: Federation, max_weight: float):
        self._grid = grid
        self._federation = federation
        self._max_weight = float(max(1.0, max_weight))
        self.traffic: dict[int, dict] = {}

    def __getattr__(self, name):
        return getattr(self._grid, name)

    def send_and_receive(self, messages, *, timeout=None):
        messages = list(messages)
        if not messages or messages[0].metadata.message_type != "train":
            return self._grid.send_and_receive(messages, timeout=timeout)
        from flwr.app import Array, ArrayRecord, ConfigRecord, Context, MetricRecord, RecordDict
        from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays
        from flwr.compat.common import recorddict_compat as compat
        from flwr.server import LegacyContext
        from flwr.server.workflow import SecAggPlusWorkflow

        arrays, config = messages[0].content["arrays"], messages[0].content["config"]
        keys = list(arrays.keys())
        start = [arrays[k].numpy() for k in keys]
        server_round = int(config.get("server-round", 0))
        nodes = [m.metadata.dst_node_id for m in messages]
        instructions = _RoundInstructions(nodes, FitIns(ndarrays_to_parameters(start),
                                                        {**dict(config), SECURE_KEYS: ",".join(keys)}))
        context = LegacyContext(Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={}),
                                strategy=instructions)
        context.state.config_records["config"] = ConfigRecord({"current_round": server_round})
        context.state.array_records["parameters"] = ArrayRecord()
        capture = _ProtocolTraffic(self._grid)
        threshold = self._federation.secure_threshold()
        workflow = SecAggPlusWorkflow(num_shares=1.0, reconstruction_threshold=min(1.0, threshold / len(nodes)),
                                      max_weight=self._max_weight, clipping_range=SECURE_CLIPPING_RANGE,
                                      quantization_range=SECURE_QUANTIZATION_RANGE, timeout=timeout)
        workflow(capture, context)
        masked = {r.metadata.src_node_id for r in capture.masked}
        self.traffic[server_round] = {"stages": capture.stages, "bytes_down": capture.down, "bytes_up": capture.up,
                                      "sites_masked": len(instructions.results or []),
                                      "dropped": [n for n in nodes if n not in masked], "retried": capture.retried}
        if not instructions.results:
            raise ZooError(f"round {server_round}: secure aggregation could not unmask the sum: fewer than "
                           f"{threshold} of the {len(nodes)} sites answered every stage of SecAgg+ (rerun with "
                           "-v to see the sites' errors); bring the sites back and continue with zoo federate "
                           "--resume RUN")
        mean = parameters_to_ndarrays(instructions.results[0][1].parameters)
        averaged = ArrayRecord({k: Array((a + d).astype(a.dtype)) for k, a, d in zip(keys, start, mean)})
        replies = []
        for reply in capture.masked:
            fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
            reply.content = RecordDict({"arrays": averaged, "metrics": MetricRecord(
                {k: v for k, v in fitres.metrics.items() if isinstance(v, (int, float))})})
            replies.append(reply)
        return replies


class _ProtocolTraffic:
    """The grid SecAgg+ runs on: counts its bytes and stages and keeps the masked-update replies (whose
    legacy `FitRes` holds each site's sample count and metrics, its arrays cleared by the mask)."""

    def __init__(self, grid):
        self._grid = grid
        self.stages = 0
        self.down = self.up = 0
        self.masked: list = []
        self.retried: list[int] = []  # node ids asked again within a stage (the stage's state is the site's)

    def __getattr__(self, name):
        return getattr(self._grid, name)

    def send_and_receive(self, messages, *, timeout=None):
        self.stages += 1
        replies, _, down, again = _asked_again(self._grid, list(messages), timeout,
                                               f"secure aggregation stage {self.stages}")
        self.down += down
        self.retried += again
        valid = [r for r in replies if not r.has_error()]
        self.up += sum(_record_bytes(r.content) for r in valid)
        self.masked += [r for r in valid if "fitres.metrics" in r.content.config_records]
        return replies


GATHER_SECONDS = 120  # how long the first round waits for every site to come online
RETRY_PAUSES = (2.0, 5.0, 10.0)  # pauses before a site whose process went away is asked again, within the round


class _CountingGrid:
    """Flower's `Grid`, counting the bytes of every array sent and received and who answered each round.

    Rounds are numbered from `offset + 1` (a resumed federation goes on from its last aggregated round).
    A training round that fewer than `minimum` sites answered stops the federation (`ZooError`).
    """

    def __init__(self, grid, sites: list[Site], offset: int = 0, minimum: int | None = None):
        self._grid = grid
        self._sites = sites
        self.offset = offset
        self.minimum = minimum or len(sites)
        self.rounds: dict[int, dict] = {}
        self.metrics: dict[int, dict[str, list]] = {}  # round -> part -> [(num-examples, {metric: value})]
        self._gathered = False
        self._nodes: dict[int, int] = {}  # Flower node id -> site index, learned from the sites' replies

    def _site_of(self, node_id) -> str:
        site = self._nodes.get(int(node_id)) if node_id is not None else None
        return self._sites[site].name if site is not None else f"node {node_id}"

    def __getattr__(self, name):
        return getattr(self._grid, name)

    def get_node_ids(self):
        """The sites online; the first call waits (up to `GATHER_SECONDS`) until every site is.

        Flower's strategies size a round's sample from this count before they wait for
        `min_available_nodes`, so a site that comes online a moment late would be left out of round 1.
        """
        import time

        nodes = list(self._grid.get_node_ids())
        deadline = time.monotonic() + GATHER_SECONDS
        while not self._gathered and len(nodes) < len(self._sites) and time.monotonic() < deadline:
            time.sleep(0.2)
            nodes = list(self._grid.get_node_ids())
        self._gathered = True
        return nodes

    def send_and_receive(self, messages, *, timeout=None):
        messages = list(messages)
        if not messages:
            return []
        kind = messages[0].metadata.message_type
        round_ = int(messages[0].content["config"].get("server-round", 0)) + self.offset
        replies, sent, down, again = _asked_again(self._grid, messages, timeout, f"round {round_} {kind}",
                                                  self._site_of)
        retried = [self._site_of(node) for node in again]
        valid = [r for r in replies if not r.has_error()]
        for r in valid:
            self._nodes[r.metadata.src_node_id] = int(r.content["metrics"]["site"])
        entry = self.rounds.setdefault(round_, {"round": round_})
        answered = [self._sites[int(r.content["metrics"]["site"])].name for r in valid]
        errors = [r for r in replies if r.has_error()]
        failed = [r.error.reason for r in errors]
        failed_sites = [self._site_of(sent.get(r.metadata.reply_to_message_id, r.metadata.src_node_id)) for r in errors]
        part = "train" if kind == "train" else "evaluate"
        entry[part] = {"sites": answered, "failed": len(failed), "failed_sites": failed_sites, "retried": retried,
                       "bytes_down": down, "bytes_up": sum(_record_bytes(r.content) for r in valid)}
        protocol = (getattr(self._grid, "traffic", None) or {}).pop(round_ - self.offset, None) \
            if part == "train" else None
        if protocol:  # secure aggregation: what crossed the network is the protocol's
            dropped = [self._site_of(node) for node in protocol["dropped"]]  # their masks were removed for them
            entry[part].update(bytes_down=protocol["bytes_down"], bytes_up=protocol["bytes_up"],
                               failed=len(dropped), failed_sites=dropped,
                               retried=sorted({self._site_of(node) for node in protocol["retried"]}),
                               secure_aggregation={"stages": protocol["stages"],
                                                   "sites_masked": protocol["sites_masked"]})
            failed_sites, failed = dropped, ["dropped out of SecAgg+"] * len(dropped)
        self.metrics.setdefault(round_, {})[part] = [
            (float(r.content["metrics"]["num-examples"]),
             {k: float(v) for k, v in r.content["metrics"].items() if k not in ("num-examples", "site")})
            for r in valid]
        if failed:
            log.warning("round %d %s: %s failed: %s", round_, part, ", ".join(failed_sites), "; ".join(failed))
        if part == "train" and len(answered) < self.minimum:
            last = f"round {round_ - 1}" if round_ > 1 else "none yet"
            why = "; ".join(f"{name}: {reason}" for name, reason in zip(failed_sites, failed)) or "no reply"
            raise ZooError(f"round {round_}: {len(answered)} of {len(self._sites)} sites answered, fewer than "
                           f"--min-sites {self.minimum} ({why}); the last aggregated "
                           f"round ({last}) is kept: bring the sites back and continue with zoo federate --resume RUN")
        return replies

    def history(self) -> list[dict]:
        """One row per round: the sites' metrics averaged by sample count (as Flower's strategies do)."""
        rows = []
        for round_ in sorted(self.metrics):
            row: dict[str, Any] = {"epoch": round_ - 1}
            for part in ("train", "evaluate"):
                entries = self.metrics[round_].get(part) or []
                for key in sorted({k for _, m in entries for k in m}):
                    have = [(n, m[key]) for n, m in entries if key in m]
                    weight = sum(n for n, _ in have)
                    if weight:
                        row[key] = sum(n * v for n, v in have) / weight
            rows.append(row)
        return rows


def _asked_again(grid, messages: list, timeout: float | None, what: str, name=str):
    """`grid.send_and_receive(messages)`, asking again (after `RETRY_PAUSES`, within `timeout`) the sites whose
    process went away (killed, out of memory, restarting); an exception raised by the site's own code would only
    repeat, so that site is not. Returns `(replies, {message id: node id}, bytes sent, node ids asked again)`."""
    import time

    from flwr.app import Message
    from flwr.common.constant import ErrorCode

    own_code = (ErrorCode.LOAD_CLIENT_APP_EXCEPTION, ErrorCode.CLIENT_APP_RAISED_EXCEPTION)
    down = sum(_record_bytes(m.content) for m in messages)
    deadline = None if timeout is None else time.monotonic() + timeout  # the round's time, retries included
    replies = list(grid.send_and_receive(messages, timeout=timeout))
    sent = {m.metadata.message_id: m.metadata.dst_node_id for m in messages}
    retried: list[int] = []
    for pause in RETRY_PAUSES:
        lost = [r for r in replies if r.has_error() and r.error.code not in own_code]
        if not lost or (deadline is not None and time.monotonic() + pause >= deadline):
            break
        lost_ids = {r.metadata.reply_to_message_id for r in lost}
        again = [m for m in messages if m.metadata.message_id in lost_ids]
        retried += [m.metadata.dst_node_id for m in again]
        log.warning("%s: %s lost its process; asked again in %.0f s", what,
                    ", ".join(name(m.metadata.dst_node_id) for m in again), pause)
        time.sleep(pause)
        messages = [Message(content=m.content, dst_node_id=m.metadata.dst_node_id,
                            message_type=m.metadata.message_type, group_id=m.metadata.group_id) for m in again]
        down += sum(_record_bytes(m.content) for m in messages)
        left = None if deadline is None else deadline - time.monotonic()
        answers = list(grid.send_and_receive(messages, timeout=left))
        sent.update({m.metadata.message_id: m.metadata.dst_node_id for m in messages})
        replies = [r for r in replies if r.metadata.reply_to_message_id not in lost_ids] + answers
    return replies, sent, down, retried


def _record_bytes(content) -> int:
    total = 0
    for record in content.array_records.values():
        total += sum(len(array.data) for array in record.values())
    for record in content.config_records.values():
        for value in record.values():
            if isinstance(value, bytes):
                total += len(value)
            elif isinstance(value, list):
                total += sum(len(v) for v in value if isinstance(v, bytes))
    return total


def _strategy(federation: Federation, n_sites: int):
    from flwr.serverapp.strategy import FedAvg, FedProx

    minimum = federation.min_sites or n_sites
    common = dict(fraction_train=1.0, fraction_evaluate=1.0, min_train_nodes=minimum, min_evaluate_nodes=minimum,
                  min_available_nodes=n_sites)
    if federation.aggregation == "fedprox":
        strategy = FedProx(proximal_mu=federation.mu, **common)
    else:
        strategy = FedAvg(**common)
    if federation.dp_noise is not None:
        from flwr.serverapp.strategy import DifferentialPrivacyClientSideFixedClipping

        strategy = DifferentialPrivacyClientSideFixedClipping(strategy, noise_multiplier=federation.dp_noise,
                                                              clipping_norm=federation.dp_clip,
                                                              num_sampled_clients=minimum)
    return strategy


CHECKPOINT = "checkpoints/federation.npz"  # the last aggregated round: global weights and the rounds so far


def federate(plugin, recipe: Recipe, federation: Federation, data: str | None = None,
             runs_dir: str | Path = "runs", resume: str | Path | None = None):
    """Run the federation in Flower's simulation engine; write and return a complete run (`RunResult`).

    Each aggregated round is saved to `RUN/checkpoints/federation.npz`; `resume=RUN` continues an
    interrupted federation from there (see `resume_federation`).
    """
    import keras

    from zoo.training.finetune import (_finish, _now, assemble, labels_of, library_versions, limit, load_data,
                                       stopwatch)

    federation.validate()
    if recipe.patience > 0:  # as zoo finetune keeps its best epoch and stops early
        monitor, mode = plugin.task.resolved_monitor()
        federation.watch = {"monitor": monitor, "mode": mode, "patience": recipe.patience,
                            "min_rounds": recipe.min_epochs}
    deployed = federation.coordinator is not None
    require_flower(simulation=not deployed)
    if deployed:
        federation.coordinator.check_free()
    if resume is None and not deployed:
        federation.sites = plugin_demo_sites(plugin, recipe, federation.sites)
    if recipe.regularizer == "lwf":
        raise ConfigError("--regularizer lwf keeps a frozen teacher at each site; a federation anchors to the "
                          "global model instead: use --aggregation fedprox (or --regularizer l2sp)")
    if recipe.distribute != "none":
        raise ConfigError("--distribute is for one machine's devices; a federation trains one process per site")
    if recipe.quantize_aware_epochs:
        raise ConfigError("--quantize-aware-epochs trains after the last epoch in one process, and a federation "
                          "trains at its sites; drop it (zoo export --quantize int8 still falls back as needed)")
    timings, lap = stopwatch()
    keras.utils.set_random_seed(recipe.seed)
    coordinator = load_data(plugin, recipe, data)
    # deployed sites are read where they are, when they join (the query before the first round)
    counts = {} if deployed else check_sites(plugin, recipe, federation.sites, coordinator)
    y_val = labels_of(limit(coordinator.validation, recipe.max_samples))
    plugin.task.check_labels(y_val, coordinator.class_names, "coordinator validation")
    lap("data")
    parts = assemble(plugin, recipe, coordinator, None)
    model = parts.model
    travel = travelling(model, federation.aggregation, moving_statistics(recipe, federation.dp_noise is not None))
    if not travel:
        raise ConfigError(f"strategy {recipe.strategy!r} with --aggregation {federation.aggregation} leaves no "
                          "weight to train; choose another strategy")
    base = base_indices(model, coordinator.preprocessing)
    weights = model.weights
    if resume is not None:
        run = Path(resume)
        meta = rundir.read_run(run, require_complete=False)
        done, state = read_checkpoint(run, travel)
        if meta.get("status") == "complete" and state.get("best"):
            state["best"]["wait"] = 0  # more rounds asked of a finished federation: its patience starts again
        set_indexed(model, state["arrays"])
        meta.update(status="running", recipe=recipe.to_dict())
        meta.pop("error", None)
        meta["federated"].update(federation.to_json())
        meta["federated"].setdefault("resumed", []).append({"from_round": done, "at": _now()})
    else:
        done, state = 0, {"rounds_log": [], "history": []}
        spec = plugin.backbone(recipe.backbone)
        run = rundir.new_run_dir(runs_dir, plugin.name)
        meta = {
            "status": "running",
            "kind": "finetune",
            "plugin": plugin.name,
            "plugin_version": plugin.version,
            "custom_objects_module": plugin.custom_objects_module,
            "backbone": spec.name,
            "weights": recipe.weights or spec.default_weights,
            "data": None if data is None else str(data),
            "task": plugin.task.to_json(),
            "class_names": list(coordinator.class_names),
            "input_signature": {k: v.to_json() for k, v in coordinator.input_signature.items()},
            "recipe": recipe.to_dict(),
            "strategy": parts.plan.describe(),
            "precision": "float32",
            "jit": False,
            "data_metadata": coordinator.metadata,
            "deployment": coordinator.deployment,
            "samples": {"train": sum(c["train"] for c in counts.values()), "validation": int(len(y_val))},
            "started": _now(),
            "versions": {**library_versions(), "flwr": _version("flwr")},
            "federated": {**federation.to_json(), "samples_per_site": counts,
                          "travelling": {"weights": len(travel),
                                         "parameters": int(sum(int(np.prod(weights[i].shape)) for i in travel)),
                                         "bytes": int(sum(weights[i].numpy().nbytes for i in travel))},
                          "leaves_a_site": ("its update to the weights that train, masked by SecAgg+" if federation.secure
                                            else "trained weights")
                                           + " (and each site's sample count, the aggregation weight"
                                           + ("; before the first round, its class names and input shapes, to "
                                              "check them" if deployed else "")
                                           + "); no inputs, labels or predictions"},
        }
    rundir.write_json(run / rundir.RUN_FILE, meta)
    lap("build")
    try:
        if done < federation.rounds:
            if deployed:
                from zoo.training.flower_deploy import deploy

                rounds_log, rows, counts = deploy(plugin, recipe, federation, model, travel, base, run, done, state,
                                                  coordinator_expects(coordinator))
                meta["federated"]["samples_per_site"] = counts
                meta["samples"]["train"] = sum(c["train"] for c in counts.values())
            else:
                grid = _simulate(plugin, recipe, federation, model, travel, base, run, done, state, counts)
                rounds_log, rows = [grid.rounds[r] for r in sorted(grid.rounds) if r], grid.history()
            state = {"rounds_log": state["rounds_log"] + rounds_log, "history": state["history"] + rows}
        _write_history(run, state["history"])
    except BaseException as exc:
        meta = rundir.read_run(run, require_complete=False)  # with the rounds the checkpoint saved
        meta["status"] = "failed"
        meta["error"] = f"{type(exc).__name__}: {exc}"
        rundir.write_json(run / rundir.RUN_FILE, meta)
        raise
    aggregated, saved = read_checkpoint(run, travel)
    kept = saved.get("best")
    meta["federated"].update(rounds_log=state["rounds_log"], aggregated_rounds=aggregated, best_round=kept)
    if federation.aggregation == "fedbn":
        meta["federated"]["batchnorm"] = ("stays at each site (sites/NAME/batchnorm.weights.npz, on the site's disk); "
                                          "model.keras carries the coordinator's starting batch norm")
    lap("train")
    stopped_by = f"{aggregated} federated rounds"
    if aggregated < federation.rounds:
        stopped_by = (f"early stopping on the sites' {federation.watch['monitor']} (patience "
                      f"{federation.watch['patience']} rounds) after {aggregated} of {federation.rounds} rounds")
    if kept:
        stopped_by += f"; round {kept['round']} kept (best {kept['monitor']} {kept['value']:.4f})"
    return _finish(plugin, recipe, coordinator, parts, run, meta, stopped_by, aggregated, None, timings, lap)


def write_checkpoint(run: Path, round_: int, travel: list[int], arrays: list[np.ndarray], state: dict) -> None:
    """The global model after `round_` and the rounds so far, as one file replaced atomically; the run's
    `zoo.json` records the round too (`federated.aggregated_rounds`)."""
    import json

    from zoo.training.callbacks import write_npz

    payload = {f"w{i}": np.asarray(a) for i, a in zip(travel, arrays)}
    payload["state"] = np.frombuffer(json.dumps({"round": round_, **state}).encode(), dtype=np.uint8)
    write_npz(run / CHECKPOINT, payload)
    meta = rundir.read_run(run, require_complete=False)
    meta["federated"]["aggregated_rounds"] = round_
    meta["federated"]["rounds_log"] = state["rounds_log"]
    rundir.write_json(run / rundir.RUN_FILE, meta)


def read_checkpoint(run: Path, travel: list[int]) -> tuple[int, dict]:
    """`(round, {"arrays": {index: array}, "rounds_log": [...], "history": [...]})` of a run's last aggregated round."""
    import json

    path = run / CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"{run} has no aggregated round to resume from ({CHECKPOINT} is missing); start the "
                          "federation again")
    with np.load(path) as saved:
        state = json.loads(bytes(saved["state"]).decode())
        missing = [i for i in travel if f"w{i}" not in saved]
        if missing:
            raise ConfigError(f"{path} does not hold the weights this federation trains; start it again")
        state["arrays"] = {i: saved[f"w{i}"] for i in travel}
    return int(state.pop("round")), state


def resume_federation(run: str | Path, rounds: int | None = None, runs_dir: str | Path = "runs"):
    """Continue an interrupted `zoo federate` run from its last aggregated round (`rounds`: a new total)."""
    from zoo import registry

    run = Path(run)
    meta = rundir.read_run(run, require_complete=False)
    fed = meta.get("federated")
    if not fed:
        raise ConfigError(f"{run} is not a federated run; continue it with zoo finetune --resume")
    federation = Federation.from_json(fed)
    if rounds is not None:
        federation.rounds = rounds
    done = int(fed.get("aggregated_rounds", 0))
    if meta.get("status") == "complete" and federation.rounds <= done:
        raise ConfigError(f"{run} finished all {done} rounds; give --rounds above {done} to train longer")
    if meta.get("status") == "complete" and rounds is None:
        raise ConfigError(f"{run} is complete: early stopping ended it after {done} of {federation.rounds} rounds; "
                          f"give --rounds above {done} to train longer")
    if federation.rounds < done:
        raise ConfigError(f"--rounds {federation.rounds} is below the {done} rounds {run} has already aggregated")
    plugin = registry.get_plugin(meta["plugin"])
    recipe = plugin.resolve_recipe(base=meta["recipe"])
    return federate(plugin, recipe, federation, data=meta.get("data"), runs_dir=runs_dir, resume=run)


def _version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def serve(grid, federation: Federation, travel: list[int], arrays: list[np.ndarray], base: dict[int, np.ndarray],
          run: Path, done: int, state: dict, counts: dict | None = None) -> tuple[list[np.ndarray], _CountingGrid]:
    """The coordinator's rounds `done + 1 .. federation.rounds` on a Flower grid, in either engine.

    `arrays`: the travelling weights to start from; `base`: the data-fitted preprocessing the sites
    receive with each round's configuration; `counts`: the sites' sample counts (`{name: {"train": n}}`),
    which size secure aggregation's weights. Each aggregated round is checkpointed into `run`.
    Returns the final travelling weights and the counting grid (its rounds, its history).
    """
    from flwr.app import ConfigRecord

    initial = arrays_record(travel, arrays)
    config = ConfigRecord({"base": pack(base)} if base else {})
    strategy = _strategy(federation, len(federation.sites))
    if federation.secure:
        largest = max([int(c.get("train", 0)) for c in (counts or {}).values()] or [0])
        grid = _SecureGrid(grid, federation, max_weight=largest or 100_000)
    counting = _CountingGrid(grid, federation.sites, offset=done, minimum=federation.min_sites)
    best = _BestRound(federation.watch, run, travel, state.get("best"))

    def aggregated(server_round: int, arrays) -> None:  # Flower calls it after each round (and before the first)
        if server_round:
            history = state["history"] + counting.history()
            values = record_values(arrays)
            current = [values[i] for i in travel]
            best.see(done + server_round, history[-1] if history else {}, current)
            so_far = {"rounds_log": state["rounds_log"] + [counting.rounds[r] for r in sorted(counting.rounds) if r],
                      "history": history, "best": best.state()}
            write_checkpoint(run, done + server_round, travel, current, so_far)
            if best.stop_training:
                raise _EnoughRounds
        return None

    try:
        result = strategy.start(grid=counting, initial_arrays=initial, num_rounds=federation.rounds - done,
                                timeout=federation.timeout_s, train_config=config,
                                evaluate_config=ConfigRecord(dict(config)), evaluate_fn=aggregated)
    except _EnoughRounds:  # early stopping: the best round is what the federation gives
        return best.arrays(), counting
    if result is None or not len(result.arrays.keys()):
        raise ZooError(f"the federation produced no model (no site answered a training round; rounds: "
                       f"{counting.rounds}); rerun with -v to see the sites' errors")
    if best.arrays() is not None:
        return best.arrays(), counting
    values = record_values(result.arrays)
    return [values[i] for i in travel], counting


class _EnoughRounds(Exception):
    """Early stopping ended the federation (raised from the round's end, out of Flower's strategy loop)."""


BEST = "checkpoints/best.federation.npz"  # the best round's global weights (the travelling ones)


class _BestRound:
    """`zoo finetune`'s early stopping over the rounds: the same `EarlyStopping` (patience, `min_epochs` as
    rounds, ties broken by validation loss), fed each round's sample-weighted mean of the sites' validation
    metrics as one epoch's logs and the round's global weights as the model's. The best round's weights go
    to `RUN/checkpoints/best.federation.npz`, and `state()` to the checkpoint, so a resumed federation goes
    on watching. `watch=None` (patience 0) keeps nothing: the last round is the model."""

    def __init__(self, watch: dict | None, run: Path, travel: list[int], saved: dict | None):
        self.run, self.travel = run, travel
        self.current: list[np.ndarray] | None = None
        self.stop_training = False
        self.callback = None
        if not watch:
            return
        from zoo.training.callbacks import EarlyStopping

        callback = EarlyStopping(monitor=watch["monitor"], mode=watch["mode"], patience=int(watch["patience"]),
                                 restore_best_weights=True, start_from_epoch=int(watch["min_rounds"]))
        callback.set_model(self)
        callback.on_train_begin()
        if saved and (run / BEST).is_file():
            with np.load(run / BEST) as kept:
                callback.best_weights = [kept[f"w{i}"] for i in travel]
            callback.best, callback.best_epoch = float(saved["value"]), int(saved["round"]) - 1
            callback._best_loss, callback.wait = float(saved["loss"]), int(saved["wait"])
        self.callback = callback

    def get_weights(self) -> list[np.ndarray] | None:  # what `EarlyStopping` takes as the model's weights
        return self.current

    def see(self, round_: int, logs: dict, arrays: list[np.ndarray]) -> None:
        if self.callback is None:
            return
        from zoo.training.callbacks import write_npz

        self.current = arrays
        held = self.callback.best_weights
        self.callback.on_epoch_end(round_ - 1, logs)
        if self.callback.best_weights is not held:  # this round is the best so far
            write_npz(self.run / BEST, {f"w{i}": a for i, a in zip(self.travel, arrays)})

    def state(self) -> dict | None:
        callback = self.callback
        if callback is None or callback.best_weights is None:
            return None
        return {"round": callback.best_epoch + 1, "monitor": callback.monitor, "value": float(callback.best),
                "loss": float(callback._best_loss), "wait": int(callback.wait)}

    def arrays(self) -> list[np.ndarray] | None:
        return None if self.callback is None else self.callback.best_weights


def _simulate(plugin, recipe, federation: Federation, model, travel, base, run: Path, done: int, state: dict,
              counts: dict | None = None):
    """Rounds `done + 1 .. federation.rounds` in Flower's simulation engine; the counting grid (its rounds)."""
    import os

    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    weights = model.weights
    arrays = [np.asarray(weights[i].numpy()) for i in travel]
    based = {i: np.asarray(weights[i].numpy()) for i in base}
    out: dict[str, Any] = {}
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context):
        try:
            out["arrays"], out["grid"] = serve(grid, federation, travel, arrays, based, run, done, state, counts)
        except BaseException as exc:  # noqa: BLE001 - reported after the engine shut down
            out["error"] = exc

    client = client_app(plugin.name, recipe.to_dict(), federation.sites, site_settings(federation, run, done),
                        federation.dp_noise is not None)
    cpus = max(1, (os.cpu_count() or 1) // min(len(federation.sites), os.cpu_count() or 1))
    logging.getLogger("flwr").setLevel(logging.WARNING)
    # max_restarts: a site process that dies (killed, out of memory) is started again and rejoins the next round
    run_simulation(server, client, num_supernodes=len(federation.sites),
                   backend_config={"client_resources": {"num_cpus": cpus, "num_gpus": 0.0, "max_restarts": 3},
                                   "init_args": {"logging_level": "ERROR", "log_to_driver": False}})
    if "error" in out:
        raise out["error"]
    set_indexed(model, dict(zip(travel, out["arrays"])))
    return out["grid"]


def site_settings(federation: Federation, run: Path, done: int) -> dict:
    """What every site's trainer needs to know of the federation (the `federation` of `_Local`)."""
    return {"aggregation": federation.aggregation, "rounds": federation.rounds,
            "local_epochs": federation.local_epochs, "private": federation.dp_noise is not None,
            "site_dir": str(run / "sites"), "first_round": done}


def _write_history(run: Path, rows: list[dict]) -> None:
    import csv

    keys = sorted({k for row in rows for k in row if k != "epoch"})
    tmp = run / ".history.csv.partial"
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["epoch"] + keys)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(run / "history.csv")
