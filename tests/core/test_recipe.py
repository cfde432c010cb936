import pytest

from zoo.errors import ConfigError
from zoo.training.recipe import Recipe


def test_precedence_defaults_plugin_yaml_cli(tmp_path):
    config = tmp_path / "recipe.yaml"
    config.write_text("epochs: 7\nstrategy: partial\nlearning_rate: 0.01\noptions:\n  image_size: 64\n")
    recipe = Recipe.resolve({"epochs": 3, "batch_size": 8, "strategy": "full"}, config,
                            {"strategy": "gradual"}, option_defaults={"image_size": 128, "augment": True})
    assert recipe.epochs == 7              # file beats plugin default
    assert recipe.batch_size == 8          # plugin default beats Recipe default
    assert recipe.strategy == "gradual"    # command line beats file
    assert recipe.learning_rate == 0.01
    assert recipe.head == Recipe().head    # untouched default
    assert recipe.options == {"image_size": 64, "augment": True}


def test_resolved_recipe_round_trips_through_yaml(tmp_path):
    recipe = Recipe.resolve({}, overrides={"strategy": "lora", "lora_rank": 8, "target": "val_auc>=0.9"})
    recipe.save_yaml(tmp_path / "r.yaml")
    again = Recipe.resolve({}, tmp_path / "r.yaml")
    assert again == recipe


def test_unknown_key_names_the_file_and_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("epochz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown recipe key 'epochz'"):
        Recipe.resolve({}, config)


def test_unknown_plugin_option_lists_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"unknown plugin option 'size'; this plugin accepts: image_size"):
        Recipe.resolve({}, overrides={"options": {"size": 3}}, option_defaults={"image_size": 128})


@pytest.mark.parametrize("values, message", [
    ({"epochs": "many"}, "epochs must be an integer"),
    ({"epochs": 0}, "epochs must be at least 1"),
    ({"strategy": "freeze-all"}, "strategy='freeze-all' is not one of"),
    ({"dropout": 1.5}, "dropout must be in"),
    ({"learning_rate": -1}, "learning_rate must be > 0"),
    ({"target": "val_auc is high"}, "must look like 'val_auc>=0.95'"),
    ({"jit": "maybe"}, "jit must be true/false/auto"),
    ({"val_fraction": 0.6, "test_fraction": 0.5}, "must leave data to train on"),
])
def test_bad_values(values, message):
    with pytest.raises(ConfigError, match=message):
        Recipe.resolve({}, overrides=values)


def test_yaml_syntax_error_names_the_line(tmp_path):
    config = tmp_path / "broken.yaml"
    config.write_text("epochs: 3\nstrategy: [full\n")
    with pytest.raises(ConfigError, match=r"broken.yaml line \d+ is not valid YAML"):
        Recipe.resolve({}, config)


def test_target_parses():
    assert Recipe(target="val_auc>=0.95").parsed_target() == ("val_auc", ">=", 0.95)


def test_per_strategy_plugin_defaults_apply_below_the_command_line():
    defaults = {"learning_rate": 0.003, "per_strategy": {"partial": {"learning_rate": 3e-4, "warmup_epochs": 1}}}
    assert Recipe.resolve(defaults).learning_rate == 0.003  # linear-probe: the head's rate
    partial = Recipe.resolve(defaults, overrides={"strategy": "partial"})
    assert (partial.learning_rate, partial.warmup_epochs) == (3e-4, 1)
    assert Recipe.resolve(defaults, overrides={"strategy": "partial", "learning_rate": 0.01}).learning_rate == 0.01
    with pytest.raises(ConfigError, match="per_strategy.partial has unknown recipe key 'lr'"):
        Recipe.resolve({"per_strategy": {"partial": {"lr": 1}}}, overrides={"strategy": "partial"})


def test_vision_defaults_are_safe_per_strategy():
    from zoo_vision import plugin

    assert plugin.resolve_recipe().learning_rate == 0.003
    assert plugin.resolve_recipe(overrides={"strategy": "partial"}).learning_rate == 3e-4
    assert plugin.resolve_recipe(overrides={"strategy": "full"}).learning_rate == 1e-4


def test_pretrain_defaults_apply_only_to_zoo_pretrain():
    defaults = {"epochs": 40, "pretrain": {"epochs": 20}}
    assert Recipe.resolve(defaults).epochs == 40
    assert Recipe.resolve(defaults, pretraining=True).epochs == 20
    assert Recipe.resolve(defaults, overrides={"epochs": 2}, pretraining=True).epochs == 2
