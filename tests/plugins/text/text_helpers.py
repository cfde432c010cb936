"""Helpers of the text plugin's tests: recipes with short sequences and small data files."""

from __future__ import annotations

#: Demo texts are under 25 word pieces: 32 keeps the tests fast without cutting any of them.
SHORT = {"sequence_length": 32}


def recipe_for(plugin, **overrides):
    """The plugin's default recipe with `overrides` and short sequences (options checked by the core)."""
    options = dict(SHORT, **overrides.pop("options", {}))
    return plugin.resolve_recipe(overrides=dict(overrides, options=options), origin="test")


def load(plugin, source, **overrides):
    """`plugin.data.load(source, recipe, options)` with the recipe of `recipe_for(plugin, **overrides)`."""
    recipe = recipe_for(plugin, **overrides)
    return plugin.data.load(str(source), recipe, plugin.options_for(recipe))


def demo(plugin, **overrides):
    """`plugin.data.demo(recipe, options)` with the recipe of `recipe_for(plugin, **overrides)`."""
    recipe = recipe_for(plugin, **overrides)
    return plugin.data.demo(recipe, plugin.options_for(recipe))


def write_csv(path, rows, header=("text", "label"), delimiter=","):
    """Write rows with the csv module (quoting as needed); returns the path."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def topic_rows(n_per_class=6):
    """A few short labelled texts per class, for data-loading tests."""
    texts = {
        "sports": ["The striker scored twice", "Our team won the final", "The marathon was hard",
                   "A great tennis match", "The referee stopped the game", "Swimming relay gold"],
        "food": ["The soup was salty", "Fresh bread this morning", "I love spicy curry",
                 "The cake was too sweet", "Pasta with basil", "A bowl of ramen"],
        "weather": ["Heavy rain all day", "A sunny afternoon", "Snow is coming",
                    "The wind is strong", "Fog over the river", "A hot humid night"],
    }
    return [(t, label) for label, items in texts.items() for t in items[:n_per_class]]
