"""`Recipe`: every fine-tuning knob in one typed dataclass.

Values resolve in this order, later winning: the Recipe defaults, the plugin's
`recipe` defaults (and its `per_strategy` defaults for the chosen strategy), a YAML
file (`--config`), command-line options. Unknown keys
and bad values raise `ConfigError` naming the key and where it came from. A run
saves its resolved recipe in `zoo.json`, so it can be reproduced.

Example:

```python
recipe = Recipe.resolve(plugin_defaults={"epochs": 8}, config_path="recipe.yaml",
                        overrides={"strategy": "gradual"})
recipe.to_dict()["strategy"]  # "gradual"
```
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from zoo.errors import ConfigError

STRATEGIES = ("linear-probe", "partial", "full", "gradual", "discriminative", "lora")
HEADS = ("linear", "mlp")
REGULARIZERS = ("none", "l2sp", "lwf")
OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("auto", "float32", "mixed")
DISTRIBUTE = ("none", "mirrored", "multi-worker")
POOLINGS = ("avg", "max")
BATCHNORM = ("inference", "train")
LOSSES = ("auto", "focal")
TARGET_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")

_CHOICES = {
    "strategy": STRATEGIES,
    "head": HEADS,
    "regularizer": REGULARIZERS,
    "optimizer": OPTIMIZERS,
    "precision": PRECISIONS,
    "distribute": DISTRIBUTE,
    "pooling": POOLINGS,
    "batchnorm": BATCHNORM,
    "loss": LOSSES,
}


@dataclass
class Recipe:
    """Every knob of a fine-tuning run (see `zoo finetune --help` for each)."""

    backbone: str | None = None
    weights: str | None = None
    strategy: str = "linear-probe"
    trainable_blocks: int = 2
    unfreeze_every: int = 1
    lr_decay: float = 0.8
    lora_rank: int = 4
    cache_features: bool = True
    head: str = "linear"
    head_hidden: int = 256
    dropout: float = 0.2
    pooling: str = "avg"
    batchnorm: str = "inference"
    regularizer: str = "none"
    reg_weight: float = 0.01
    loss: str = "auto"
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    warmup_epochs: int = 1
    optimizer: str = "adam"
    weight_decay: float = 0.0
    patience: int = 5
    min_epochs: int = 0
    target: str | None = None
    seed: int = 42
    precision: str = "auto"
    jit: bool | None = None
    deterministic: bool = False
    distribute: str = "none"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    max_samples: int | None = None
    quantize_aware_epochs: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def resolve(
        cls,
        plugin_defaults: Mapping[str, Any] | None = None,
        config_path: str | Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        option_defaults: Mapping[str, Any] | None = None,
        option_specs: Mapping[str, Any] | None = None,
        overrides_origin: str = "command line",
        defaults_origin: str = "plugin defaults",
        pretraining: bool = False,
    ) -> "Recipe":
        """Layer defaults, plugin defaults, a YAML file and overrides; validate.

        Plugin options (the `options` mapping) are checked against `option_specs`
        (name -> `zoo.api.Option`: converted, range-checked, unknown keys refused);
        `option_defaults` (name -> default value) is the older form of the same.
        Without either, options pass through unchecked.
        """
        from zoo.api import Option

        specs: dict[str, Any] | None = None
        if option_specs is not None:
            specs = dict(option_specs)
        elif option_defaults is not None:
            specs = {k: v if isinstance(v, Option) else Option(v) for k, v in option_defaults.items()}
        values: dict[str, Any] = {}
        options: dict[str, Any] = {k: spec.default for k, spec in (specs or {}).items()}
        plugin_defaults = dict(plugin_defaults or {})
        per_strategy = plugin_defaults.pop("per_strategy", None) or {}
        pretrain_defaults = plugin_defaults.pop("pretrain", None) or {}
        if not isinstance(pretrain_defaults, Mapping):
            raise ConfigError(f"{defaults_origin}: pretrain must be a mapping of recipe defaults for zoo pretrain")
        if pretraining:  # `zoo pretrain`: the plugin's pretraining defaults (e.g. its epochs) win over fine-tuning's
            plugin_defaults.update(pretrain_defaults)
        layers = [(defaults_origin, plugin_defaults)]
        if config_path is not None:
            layers.append((str(config_path), load_yaml(config_path)))
        layers.append((overrides_origin, overrides or {}))
        for origin, layer in layers:
            for key, value in layer.items():
                if key == "options":
                    if value is None:
                        continue
                    if not isinstance(value, Mapping):
                        raise ConfigError(f"{origin}: 'options' must be a mapping of plugin options")
                    for okey, ovalue in value.items():
                        if specs is not None:
                            if okey not in specs:
                                allowed = ", ".join(sorted(specs)) or "none"
                                raise ConfigError(
                                    f"{origin}: unknown plugin option {okey!r}; this plugin accepts: {allowed}"
                                )
                            ovalue = specs[okey].convert(okey, ovalue, origin)
                        options[okey] = ovalue
                    continue
                if key not in _FIELDS:
                    raise ConfigError(
                        f"{origin}: unknown recipe key {key!r}; known keys: {', '.join(sorted(_FIELDS))}"
                    )
                values[key] = _coerce(key, value, origin)
        # A plugin's defaults per strategy (e.g. a lower learning rate once the backbone trains)
        # apply below what a recipe file or the command line set.
        chosen = values.get("strategy", _FIELDS["strategy"].default)
        if not isinstance(per_strategy, Mapping) or not all(isinstance(v, Mapping) for v in per_strategy.values()):
            raise ConfigError(f"{defaults_origin}: per_strategy must map strategies to recipe defaults")
        explicit = {key for _, layer in layers[1:] for key in layer}
        for key, value in (per_strategy.get(chosen) or {}).items():
            if key not in _FIELDS:
                raise ConfigError(f"{defaults_origin}: per_strategy.{chosen} has unknown recipe key {key!r}")
            if key not in explicit:
                values[key] = _coerce(key, value, f"{defaults_origin} (per_strategy.{chosen})")
        recipe = cls(**values, options=options)
        recipe.validate()
        return recipe

    def validate(self) -> None:
        for key, choices in _CHOICES.items():
            value = getattr(self, key)
            if value not in choices:
                raise ConfigError(f"recipe {key}={value!r} is not one of: {', '.join(choices)}")
        for key in ("epochs", "batch_size", "trainable_blocks", "unfreeze_every", "lora_rank", "head_hidden"):
            if getattr(self, key) < 1:
                raise ConfigError(f"recipe {key} must be at least 1, got {getattr(self, key)}")
        limits = {"epochs": 100_000, "batch_size": 1_000_000, "trainable_blocks": 10_000, "unfreeze_every": 100_000,
                  "lora_rank": 4096, "head_hidden": 1_000_000, "warmup_epochs": 100_000, "patience": 100_000,
                  "min_epochs": 100_000, "quantize_aware_epochs": 100_000}
        for key, most in limits.items():
            if getattr(self, key) > most:
                raise ConfigError(f"recipe {key} must be at most {most:,}, got {getattr(self, key):,}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"recipe seed must be in [0, 2**32), got {self.seed}")
        if self.max_samples is not None and self.max_samples < 1:
            raise ConfigError(f"recipe max_samples must be at least 1, got {self.max_samples}")
        if self.weight_decay < 0:
            raise ConfigError(f"recipe weight_decay must be >= 0, got {self.weight_decay}")
        for key in ("warmup_epochs", "patience", "min_epochs", "quantize_aware_epochs"):
            if getattr(self, key) < 0:
                raise ConfigError(f"recipe {key} must be >= 0, got {getattr(self, key)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"recipe dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"recipe lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.learning_rate <= 0:
            raise ConfigError(f"recipe learning_rate must be > 0, got {self.learning_rate}")
        if self.reg_weight < 0:
            raise ConfigError(f"recipe reg_weight must be >= 0, got {self.reg_weight}")
        for key in ("val_fraction", "test_fraction"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"recipe {key} must be in [0, 1), got {getattr(self, key)}")
        if self.quantize_aware_epochs and self.strategy == "lora":
            raise ConfigError("recipe quantize_aware_epochs needs merged kernels, and lora keeps its adapters apart; "
                              "use another strategy, or quantize_aware_epochs=0")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("recipe val_fraction + test_fraction must leave data to train on")
        if self.target is not None:
            self.parsed_target()

    def parsed_target(self) -> tuple[str, str, float] | None:
        """`'val_auc>=0.95'` -> `('val_auc', '>=', 0.95)`."""
        if self.target is None:
            return None
        match = TARGET_PATTERN.match(self.target)
        if not match:
            raise ConfigError(
                f"recipe target {self.target!r} must look like 'val_auc>=0.95' (a metric, >= <= > <, a number)"
            )
        return match.group(1), match.group(2), float(match.group(3))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


_FIELDS = {f.name: f for f in dataclasses.fields(Recipe) if f.name != "options"}
_INT_FIELDS = {"trainable_blocks", "unfreeze_every", "lora_rank", "head_hidden", "epochs", "batch_size",
               "warmup_epochs", "patience", "min_epochs", "seed", "max_samples",
               "quantize_aware_epochs"}
_FLOAT_FIELDS = {"lr_decay", "dropout", "reg_weight", "learning_rate", "weight_decay", "val_fraction",
                 "test_fraction"}
_BOOL_FIELDS = {"jit", "cache_features", "deterministic"}


def _coerce(key: str, value: Any, origin: str) -> Any:
    if value is None:
        default = _FIELDS[key].default
        if default is None:
            return None
        raise ConfigError(f"{origin}: recipe {key} cannot be empty")
    try:
        if key in _INT_FIELDS:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if key in _FLOAT_FIELDS:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ConfigError(f"{origin}: recipe {key} must be a finite number, got {value!r}")
            return number
        if key in _BOOL_FIELDS:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("true", "on", "yes", "1"):
                return True
            if text in ("false", "off", "no", "0"):
                return False
            if text == "auto" and _FIELDS[key].default is None:
                return None
            raise ValueError
    except (TypeError, ValueError):
        kind = "an integer" if key in _INT_FIELDS else "a number" if key in _FLOAT_FIELDS else "true/false/auto"
        raise ConfigError(f"{origin}: recipe {key} must be {kind}, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{origin}: recipe {key} must be a string, got {value!r}")
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a recipe YAML file into a dict; `ConfigError` names the file on failure."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read recipe file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"recipe file {path} is not text (not UTF-8 YAML); pass a .yaml recipe") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"recipe file {path}{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"recipe file {path} must hold a mapping of recipe keys, not {type(data).__name__}")
    return data
