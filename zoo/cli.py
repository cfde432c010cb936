"""The `zoo` command. Thin: parse options, call the library, print.

A `ZooError` (or an export error) prints as one line, `Error: ...`, on stderr and
exits with code 2; anything else is a bug and keeps its traceback. TensorFlow is
imported only by the commands that build models, so `zoo --help` and
`zoo plugins list` stay fast.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import sys
from pathlib import Path

import click

from zoo import __version__, registry
from zoo.errors import ConfigError, ZooError
from zoo.training.recipe import BATCHNORM, DISTRIBUTE, HEADS, LOSSES, OPTIMIZERS, POOLINGS, PRECISIONS, REGULARIZERS, STRATEGIES


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ZooError]
    try:
        from zoo_export.errors import ExportError
    except ImportError:  # keras-zoo-export not installed: nothing of it can raise
        pass
    else:
        errors.append(ExportError)
    return tuple(errors)


class ZooGroup(click.Group):
    """Turns user errors into one line and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _user_errors() as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(2)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Usage errors (an unknown --strategy, a bad integer) also print one line and exit 2."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f"zoo {exc.ctx.command_path.split(' ', 1)[1]} --help" if exc.ctx and " " in exc.ctx.command_path \
                else "zoo --help"
            click.echo(f"Error: {exc.format_message()} (see `{where}`)", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keras-zoo")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """keras-zoo: fine-tune pretrained Keras models from plugins, export them verified.

    \b
      zoo plugins list
      zoo finetune --plugin medical-ct
      zoo export --format tflite --quantize int8
      zoo predict runs/<run>/exports/model.tflite scan/
    """
    import logging
    import os

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def load_tensorflow(verbose: int = 0) -> None:
    """Import TensorFlow and probe devices with its native start-up chatter silenced.

    TensorFlow's C++ core writes info lines (oneDNN, CUDA probing) to the stderr
    file descriptor before any log level applies; a user error must stay one line.
    """
    if "tensorflow" in sys.modules:
        return
    from zoo_export.native import quiet_stderr

    with quiet_stderr(enabled=not verbose):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")


def needs_tensorflow(func):
    """Decorator for commands that build or run models."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        load_tensorflow(click.get_current_context().find_root().params.get("verbose", 0))
        return func(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- plugins

@cli.group()
def plugins() -> None:
    """Installed plugins (domains) and export formats."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_list(as_json: bool) -> None:
    """List plugins and export formats, with their distribution and status."""
    entries = registry.list_plugins()
    exporters = registry.list_exporters()
    if as_json:
        click.echo(json.dumps({"plugins": [e.to_json() for e in entries],
                               "exporters": [e.to_json() for e in exporters]}, indent=2))
        return
    click.echo("Plugins:")
    if not entries:
        click.echo("  (none installed; pip install keras-zoo-medical-ct, for example)")
    for e in entries:
        line = f"  {e.name:<16} {e.status:<9} {e.domain:<10} {e.distribution} {e.version}"
        click.echo(line + (f"\n      {e.reason}" if e.reason else f"  {e.summary}"))
    click.echo("Export formats:")
    for e in exporters:
        line = f"  {e.name:<16} {e.status:<9} {e.distribution} {e.version}"
        click.echo(line + (f"\n      {e.reason}" if e.reason else f"  {e.summary}"))


@plugins.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_info(name: str, as_json: bool) -> None:
    """Backbones, weights sources, task and default recipe of plugin NAME."""
    plugin = registry.get_plugin(name)
    info = plugin.describe()
    info["version"] = plugin.version
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(f"{info['name']} {info['version'] or ''} ({info['domain']}): {info['summary']}")
    click.echo(f"task: {info['task']['kind']}")
    click.echo("backbones:")
    for key, b in info["backbones"].items():
        mark = "*" if key == info["default_backbone"] else " "
        click.echo(f" {mark} {key:<20} {b['parameters']:<8} {b['summary']}")
        for wname, wdesc in b["weights"].items():
            default = " (default)" if wname == b["default_weights"] else ""
            click.echo(f"      weights {wname}{default}: {wdesc}")
    specs = plugin.option_specs()
    if specs:
        click.echo("plugin options (-o KEY=VALUE):")
        for key, spec in specs.items():
            click.echo(f"  {key:<22} {spec.help or '(no help given)'}")
            click.echo(f"  {'':<22} {spec.describe()}")
    click.echo("default recipe: " + json.dumps(info["recipe"]))


@plugins.command("new")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Where the distribution folder keras-zoo-NAME is written.")
def plugins_new(name: str, directory: str) -> None:
    """Write a new plugin distribution NAME that installs with pip and passes check_plugin."""
    from zoo.scaffold import new_plugin

    root = new_plugin(name, directory)
    click.echo(f"wrote {root}/ (pyproject.toml, {root.name.replace('keras-zoo-', 'zoo_').replace('-', '_')}/, "
               "tests/, README.md)")
    click.echo(f"next: pip install -e {root} && zoo plugins info {name} && python -m pytest {root}/tests")


# --------------------------------------------------------------------------- finetune

def _parse_options(pairs: tuple[str, ...]) -> dict:
    import yaml

    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"-o {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or type(exc).__name__
            raise ConfigError(f"-o {pair!r}: the value is not valid YAML ({problem}); quote it or fix the "
                              "brackets, e.g. -o 'windows=[lung, bone]'") from None
    return options


RECIPE_OPTIONS = [
    click.option("--backbone", help="Backbone name (see `zoo plugins info P`); finetune: auto runs `zoo select` first."),
    click.option("--weights", help="Weights source: a name the backbone lists, a local file, or none."),
    click.option("--strategy", type=click.Choice(STRATEGIES), help="What trains (default: the plugin's)."),
    click.option("--trainable-blocks", type=int, help="partial: how many top blocks train."),
    click.option("--unfreeze-every", type=int, help="gradual: epochs between unfreezing blocks."),
    click.option("--lr-decay", type=float, help="discriminative: learning-rate factor per block downwards."),
    click.option("--lora-rank", type=int, help="lora: adapter rank."),
    click.option("--cache/--no-cache", "cache_features", default=None,
                 help="linear-probe: compute backbone features once (default) or every epoch."),
    click.option("--head", type=click.Choice(HEADS), help="Head on the pooled features."),
    click.option("--head-hidden", type=int, help="mlp head: hidden units."),
    click.option("--dropout", type=float, help="Dropout before the output layer."),
    click.option("--pooling", type=click.Choice(POOLINGS), help="Pooling of feature maps."),
    click.option("--batchnorm", type=click.Choice(BATCHNORM),
                 help="inference (default): batch norm keeps its pretrained statistics; train: unfrozen ones update them."),
    click.option("--regularizer", type=click.Choice(REGULARIZERS), help="L_pretrain term of the loss."),
    click.option("--reg-weight", type=float, help="lambda of the L_pretrain term."),
    click.option("--loss", type=click.Choice(LOSSES), help="auto (the task's) or focal."),
    click.option("--epochs", type=int),
    click.option("--batch-size", type=int),
    click.option("--learning-rate", "--lr", "learning_rate", type=float),
    click.option("--warmup-epochs", type=int),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS)),
    click.option("--weight-decay", type=float),
    click.option("--patience", type=int, help="Early-stopping patience in epochs (0: off)."),
    click.option("--min-epochs", type=int,
                 help="Early stopping neither stops nor takes its best weights before this many epochs."),
    click.option("--target", help="Stop when reached, e.g. 'val_auc>=0.95'."),
    click.option("--seed", type=int),
    click.option("--precision", type=click.Choice(PRECISIONS), help="auto: mixed bfloat16 on a GPU, else float32."),
    click.option("--jit/--no-jit", default=None, help="XLA compilation (default: on with a GPU)."),
    click.option("--deterministic", is_flag=True, default=None,
                 help="Same seed, same run: TensorFlow op determinism (slower on a GPU)."),
    click.option("--distribute", type=click.Choice(DISTRIBUTE)),
    click.option("--max-samples", type=int, help="Use at most N samples per split (quick trials)."),
    click.option("--quantize-aware-epochs", type=int,
                 help="After training, N epochs on kernels rounded to the int8 grid (straight-through); the saved "
                      "kernels stay on it, so --quantize int8 weight files compute what Keras computes."),
]


def recipe_options(func):
    for option in reversed(RECIPE_OPTIONS):
        func = option(func)
    return func


@cli.command()
@click.option("--plugin", "-p", "plugin_name", help="Plugin (domain) to fine-tune; see `zoo plugins list`.")
@click.option("--data", "-d", help="Data source (folder, CSV...); default: the plugin's demo data.")
@click.option("--config", "-c", "config", type=click.Path(), help="Recipe YAML; command-line options override it.")
@click.option("--option", "-o", "options", multiple=True, help="Plugin option KEY=VALUE (repeatable).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@click.option("--resume", type=click.Path(), help="Continue an interrupted run (its folder).")
@click.option("--track", type=click.Choice(["mlflow"]),
              help="Log the run to MLflow (MLFLOW_TRACKING_URI, default ./mlruns); pip install 'keras-zoo[mlflow]'.")
@recipe_options
@needs_tensorflow
def finetune(plugin_name, data, config, options, runs_dir, resume, track, **values):
    """Fine-tune a plugin's pretrained backbone; write a run folder under runs/ (with report.html)."""
    from zoo.training import rundir

    if track:
        from zoo import tracking

        tracking.require(track)  # before training, not after

    overrides = {k: v for k, v in values.items() if v is not None}
    if options:
        overrides["options"] = _parse_options(options)
    if resume:
        meta = rundir.read_run(resume, require_complete=False)
        if plugin_name and plugin_name != meta["plugin"]:
            raise ConfigError(f"--plugin {plugin_name} differs from the run's plugin {meta['plugin']}")
        fixed = sorted(k for k in overrides if k not in ("epochs", "options")) + (["options"] if options else [])
        if config:
            fixed.append("config")
        if fixed or (data and data != meta.get("data")):
            names = ", ".join("-o" if k == "options" else f"--{k.replace('_', '-')}" for k in fixed) or "--data"
            raise ConfigError(f"--resume continues {resume} with its own recipe and data; drop {names} (only "
                              "--epochs may change, to train longer), or start a new run")
        plugin = registry.get_plugin(meta["plugin"])
        extra = {"epochs": overrides["epochs"]} if "epochs" in overrides else None
        recipe = plugin.resolve_recipe(base=meta["recipe"], overrides=extra)
        data = meta.get("data")
    else:
        if not plugin_name:
            names = ", ".join(e.name for e in registry.list_plugins() if e.status == "ok") or "none"
            raise ConfigError(f"--plugin is required; installed plugins: {names}")
        plugin = registry.get_plugin(plugin_name)
        record = None
        if overrides.get("backbone") == "auto":
            overrides, record = _auto_backbone(plugin, config, overrides, data, runs_dir)
        recipe = plugin.resolve_recipe(config, overrides)
    from zoo.training.finetune import finetune as run_finetune

    verbose = 1 if sys.stdout.isatty() else 2
    result = run_finetune(plugin, recipe, data=data, runs_dir=runs_dir, resume=resume, verbose=verbose,
                          record=None if resume else record)
    _echo_result(result, f"epochs: {result.epochs_run} ({result.stopped_by})")
    if track:
        run_id = tracking.log_finetune(result.path)
        click.echo(f"mlflow run: {run_id} ({tracking.tracking_uri()})")


def _auto_backbone(plugin, config, overrides: dict, data, runs_dir) -> tuple[dict, dict]:
    """`--backbone auto`: the selection's recipe under what the user set explicitly."""
    from zoo.selection import select

    chosen = dict(overrides)
    chosen.pop("backbone")
    selection = select(plugin, plugin.resolve_recipe(config, chosen), data, runs_dir=runs_dir)
    for line in _selection_lines(selection):
        click.echo(line)
    for key, value in selection.recipe.items():
        chosen.setdefault(key, value)
    summary = selection.to_json()
    summary["candidates"] = summary["candidates"][:10]
    return chosen, {"selection": summary}


def _selection_lines(selection) -> list[str]:
    from zoo.selection import table

    best = selection.best
    return [*table(selection), f"best: {best.name} (LogME {best.logme:.4f} on {selection.samples} training samples, "
            f"{selection.seconds:.1f} s)", "recipe: " + ", ".join(f"{k}={v}" for k, v in selection.recipe.items())]


@cli.command()
@click.option("--plugin", "-p", "plugin_name", required=True, help="Plugin whose backbones to rank.")
@click.option("--data", "-d", help="Labelled data (default: the plugin's demo data).")
@click.option("--config", "-c", "config", type=click.Path(), help="Recipe YAML (options, seed, pooling).")
@click.option("--option", "-o", "options", multiple=True, help="Plugin option KEY=VALUE (repeatable).")
@click.option("--backbone", "backbones", multiple=True, help="Only these backbones (repeatable; default: all).")
@click.option("--weights", "extra_weights", multiple=True,
              help="Another weights source to score (a file or pretraining run; repeatable).")
@click.option("--samples", default=500, show_default=True, type=click.IntRange(min=4),
              help="Training samples to score on.")
@click.option("--depths", default=3, show_default=True, type=click.IntRange(min=1),
              help="Depths per backbone: features after each of the last N blocks.")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True),
              help="Seconds; candidates not started by then are skipped (the first always runs).")
@click.option("--out", type=click.Path(), help="Folder for selection.json and recipe.yaml "
              "(default: RUNS-DIR/select-<plugin>-<time>).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(),
              help="Where pretraining runs are looked for, and the default --out.")
@click.option("--seed", type=int, help="Seed of the sample (and of the data split).")
@click.option("--json", "as_json", is_flag=True, help="Print selection.json instead of the table.")
@needs_tensorflow
def select(plugin_name, data, config, options, backbones, extra_weights, samples, depths, budget, out, runs_dir,
           seed, as_json):
    """Rank backbones x weights x depths by LogME on one forward pass; write a recipe for the best.

    \b
      zoo select --plugin vision --data photos/
      zoo finetune --plugin vision --data photos/ --config runs/select-vision-<time>/recipe.yaml
    """
    import datetime as _dt

    from zoo.selection import select as run_select, write_selection

    from zoo_export.progress import set_quiet

    set_quiet(as_json)
    plugin = registry.get_plugin(plugin_name)
    overrides = {"options": _parse_options(options)} if options else {}
    if seed is not None:
        overrides["seed"] = seed
    recipe = plugin.resolve_recipe(config, overrides)
    # Keras prints download attempts on stdout; under --json stdout holds the JSON alone
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        selection = run_select(plugin, recipe, data, samples=samples, depths=depths, budget=budget,
                               backbones=backbones, extra_weights=extra_weights, runs_dir=runs_dir)
    out = Path(out) if out else Path(runs_dir) / f"select-{plugin.name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    report, recipe_file = write_selection(selection, out)
    if as_json:
        click.echo(json.dumps(selection.to_json(), indent=2))
        return
    for line in _selection_lines(selection):
        click.echo(line)
    click.echo(f"wrote {report} and {recipe_file}")
    click.echo(f"next: zoo finetune --plugin {plugin.name}" + (f" --data {data}" if data else "")
               + f" --config {recipe_file}")


@cli.command()
@click.option("--plugin", "-p", "plugin_name", required=True, help="Plugin whose backbone to pretrain.")
@click.option("--data", "-d", help="Unlabelled data (default: the plugin's demo data).")
@click.option("--config", "-c", "config", type=click.Path(), help="Recipe YAML; command-line options override it.")
@click.option("--option", "-o", "options", multiple=True, help="Plugin option KEY=VALUE (repeatable).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@recipe_options
@needs_tensorflow
def pretrain(plugin_name, data, config, options, runs_dir, **values):
    """Self-supervised pretraining on unlabelled data; `zoo finetune --weights RUN` starts from it."""
    from zoo.training.pretrain import run_pretrain

    overrides = {k: v for k, v in values.items() if v is not None}
    if options:
        overrides["options"] = _parse_options(options)
    plugin = registry.get_plugin(plugin_name)
    recipe = plugin.resolve_recipe(config, overrides, pretraining=True)
    run, metrics = run_pretrain(plugin, recipe, data, runs_dir)
    click.echo(f"pretraining run: {run}")
    if metrics:
        click.echo("metrics: " + _fmt(metrics))
    click.echo(f"fine-tune from it: zoo finetune --plugin {plugin.name} --weights {run}")


@cli.command()
@click.option("--plugin", "-p", "plugin_name", help="Plugin (domain) every site fine-tunes.")
@click.option("--site", "sites", multiple=True, metavar="NAME=DATA",
              help="A site and its own data source (repeatable, at least 2); with --coordinator, NAME alone.")
@click.option("--demo-sites", type=int, help="Instead of --site: the demo's training split in N sites.")
@click.option("--data", "-d", help="The coordinator's held-out data: preprocessing is fitted on it, the final model "
                                   "evaluated on it (default: the plugin's demo data).")
@click.option("--rounds", type=int, help="Federated rounds (default 5; with --resume: a new total).")
@click.option("--local-epochs", default=1, show_default=True, type=int, help="Epochs each site trains per round.")
@click.option("--aggregation", default="fedavg", show_default=True,
              type=click.Choice(["fedavg", "fedprox", "fedbn"]),
              help="fedprox: a proximal term to the global model; fedbn: batch norm stays at each site.")
@click.option("--mu", default=0.01, show_default=True, type=float, help="fedprox: weight of the proximal term.")
@click.option("--min-sites", type=int, help="Sites a round needs (default: all).")
@click.option("--dp-noise", type=float, help="Differential privacy: Gaussian noise multiplier (with --dp-clip).")
@click.option("--dp-clip", type=float, help="Differential privacy: clipping norm of each site's update.")
@click.option("--secure-aggregation", is_flag=True,
              help="SecAgg+: sites send masked updates; the coordinator learns only their sum.")
@click.option("--config", "-c", "config", type=click.Path(), help="Recipe YAML; command-line options override it.")
@click.option("--option", "-o", "options", multiple=True, help="Plugin option KEY=VALUE (repeatable).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@click.option("--resume", type=click.Path(), help="Continue an interrupted federation (its run folder) from its "
                                                  "last aggregated round.")
@click.option("--coordinator", metavar="HOST:PORT", help="Run on Flower's deployment engine: listen here for the "
                                                         "sites (each runs zoo site --coordinator HOST:PORT).")
@click.option("--tls-cert", type=click.Path(), help="--coordinator: the coordinator's TLS certificate (PEM).")
@click.option("--tls-key", type=click.Path(), help="--coordinator: its private key (PEM).")
@click.option("--tls-ca", type=click.Path(), help="--coordinator: the certificate authority that signed it (PEM).")
@click.option("--insecure", is_flag=True, help="--coordinator without TLS (a trusted network, one machine).")
@click.option("--wait", "wait_s", default=300.0, show_default=True, type=float,
              help="--coordinator: seconds to wait for every site to join.")
@recipe_options
@needs_tensorflow
def federate(plugin_name, sites, demo_sites, data, rounds, local_epochs, aggregation, mu, min_sites, dp_noise,
             dp_clip, secure_aggregation, config, options, runs_dir, resume, coordinator, tls_cert, tls_key, tls_ca, insecure, wait_s, **values):
    """Fine-tune across sites that keep their data (Flower simulation, or its deployment engine with
    --coordinator); write an ordinary run folder."""
    from zoo.training.federated import Federation, federate as run_federate, parse_sites, require_flower

    if resume:
        from zoo.training.federated import resume_federation

        ctx = click.get_current_context()
        given = [name for name in ctx.params if name not in ("resume", "rounds", "runs_dir") and
                 ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if given:
            names = ", ".join("--" + ("site" if n == "sites" else "option" if n == "options" else
                                      "plugin" if n == "plugin_name" else n.replace("_", "-")) for n in given)
            raise ConfigError(f"--resume continues {resume} with its own sites, recipe and data; drop {names} (only "
                              "--rounds may change, to train longer)")
        require_flower()
        result = resume_federation(resume, rounds=rounds, runs_dir=runs_dir)
        _echo_result(result, f"resumed: {result.epochs_run} federated rounds in all")
        return
    if not plugin_name:
        names = ", ".join(e.name for e in registry.list_plugins() if e.status == "ok") or "none"
        raise ConfigError(f"--plugin is required; installed plugins: {names}")
    rounds = 5 if rounds is None else rounds
    link = None
    if coordinator:
        from zoo.training.flower_deploy import Coordinator

        link = Coordinator(coordinator, tls_cert, tls_key, tls_ca, insecure, wait_s)
        link.validate()
    elif tls_cert or tls_key or tls_ca or insecure:
        raise ConfigError("--tls-cert, --tls-key, --tls-ca and --insecure go with --coordinator HOST:PORT")
    federation = Federation(parse_sites(sites, demo_sites, deployed=link is not None), rounds=rounds,
                            local_epochs=local_epochs, aggregation=aggregation, mu=mu, min_sites=min_sites,
                            dp_noise=dp_noise, dp_clip=dp_clip, secure=secure_aggregation, coordinator=link)
    federation.validate()
    require_flower(simulation=link is None)
    overrides = {k: v for k, v in values.items() if v is not None}
    if options:
        overrides["options"] = _parse_options(options)
    plugin = registry.get_plugin(plugin_name)
    recipe = plugin.resolve_recipe(config, overrides)
    result = run_federate(plugin, recipe, federation, data=data, runs_dir=runs_dir)
    _echo_result(result, f"rounds: {result.epochs_run} x {local_epochs} local epoch(s), {len(federation.sites)} "
                         f"sites, {aggregation} ({result.stopped_by})")


@cli.command()
@click.option("--coordinator", required=True, metavar="HOST:PORT", help="Where zoo federate --coordinator listens.")
@click.option("--name", required=True, help="This site's name, as the coordinator lists it (--site NAME).")
@click.option("--data", "-d", required=True, help="This site's own data; it never leaves this machine.")
@click.option("--tls-ca", type=click.Path(), help="The certificate authority that signed the coordinator's "
                                                 "certificate (PEM).")
@click.option("--insecure", is_flag=True, help="Without TLS (a trusted network, one machine).")
@click.option("--work-dir", type=click.Path(), help="This site's own state (FedBN statistics, Flower's log); "
                                                   "default ./zoo-site-NAME.")
@click.option("--wait", "wait_s", default=60.0, show_default=True, type=float,
              help="Seconds to wait for the coordinator to answer.")
def site(coordinator, name, data, tls_ca, insecure, work_dir, wait_s):
    """Join a federation as one site (Flower's SuperNode); train there on this machine's data until stopped."""
    from zoo.training.federated import require_flower
    from zoo.training.flower_deploy import run_site

    require_flower(simulation=False)
    code = run_site(coordinator, name, data, tls_ca=tls_ca, insecure=insecure, work_dir=work_dir, wait_s=wait_s,
                    echo=click.echo)
    sys.exit(code)


def _echo_result(result, how: str) -> None:
    """What `zoo finetune` and `zoo federate` print: the run, how it trained, its metrics, its report."""
    click.echo(f"run: {result.path}")
    click.echo(how)
    click.echo("validation: " + _fmt(result.metrics))
    if result.test_metrics:
        click.echo("test: " + _fmt(result.test_metrics))
    click.echo(f"report: {result.path / 'report.html'}")
    for note in result.warnings:
        click.echo(f"warning: {note}", err=True)


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())


# --------------------------------------------------------------------------- evaluate

@cli.command()
@click.argument("run", required=False, type=click.Path())
@click.option("--data", "-d", help="Data to evaluate on (default: the run's own test split).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@needs_tensorflow
def evaluate(run, data, runs_dir):
    """Test metrics of RUN (default: the newest run); saved to RUN/evaluation.json."""
    from zoo.evaluation import evaluate_run
    from zoo.training import rundir

    run = Path(run) if run else rundir.newest_run(runs_dir)
    metrics, split = evaluate_run(run, data)
    click.echo(f"run: {run}")
    click.echo(f"{split}: " + _fmt(metrics))


# --------------------------------------------------------------------------- export / predict

class ExportCommand(click.Command):
    """Lists the installed export formats (entry points) at the end of `--help`."""

    def format_epilog(self, ctx, formatter):
        entries = [e for e in registry.list_exporters() if e.status == "ok"]
        with formatter.section("Installed formats"):
            formatter.write_dl([(e.name, f"{e.summary} [{e.distribution}]") for e in entries] or [("none", "")])


@cli.command(cls=ExportCommand)
@click.argument("run", required=False, type=click.Path())
@click.option("--format", "-f", "fmt", required=True, help="Export format (see the list below).")
@click.option("--quantize", "-q", default="none", show_default=True,
              help="tflite: none, float16, dynamic or int8 (full-integer, calibrated on training data).")
@click.option("--out", "-o", type=click.Path(), help="Artifact path (default: RUN/exports/model[-Q].<ext>).")
@click.option("--force", is_flag=True, help="Replace an existing artifact at --out.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Run the artifact in its own runtime next to the Keras model before writing it.")
@click.option("--samples", default=128, show_default=True, help="Validation samples to verify on.")
@click.option("--calibration-samples", default=200, show_default=True, help="int8: training rows to calibrate on, drawn class by class.")
@click.option("--min-agreement", default=0.95, show_default=True, help="int8/dynamic: decision agreement needed.")
@click.option("--min-estimated-agreement", type=float,
              help="int8/dynamic classifiers: also require this agreement as estimated from every pair of "
                   "score shift and decision margin (reported either way).")
@click.option("--strict-int8", is_flag=True,
              help="int8: refuse when full-integer int8 falls short, instead of keeping operations in float.")
@click.option("--float-ops", default=12, show_default=True,
              help="int8: the most operations the fallback may keep in float.")
@click.option("--atol", type=float, help="Override the format's absolute tolerance.")
@click.option("--opset", type=int, help="onnx: opset version.")
@click.option("--io-dtype", default="float32", show_default=True, help="int8: float32, int8 or uint8 input/output.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path())
@needs_tensorflow
def export(run, fmt, quantize, out, force, verify, samples, calibration_samples, min_agreement,
           min_estimated_agreement, strict_int8, float_ops, atol, opset, io_dtype, runs_dir):
    """Export RUN (default: the newest run) to a deployment format, verified against Keras."""
    from zoo.deploy import export_run
    from zoo.training import rundir

    run = Path(run) if run else rundir.newest_run(runs_dir)
    report = export_run(run, fmt, quantize=quantize, out=out, force=force, verify=verify, samples=samples,
                        calibration_samples=calibration_samples, min_agreement=min_agreement, opset=opset,
                        io_dtype=io_dtype, atol=atol, strict_int8=strict_int8, float_ops=float_ops,
                        min_estimated_agreement=min_estimated_agreement)
    v = report.verification
    click.echo(f"{'format':<12} {'quantize':<9} {'size':>10}  verification")
    if v is None:
        check = "skipped (--no-verify)"
    else:
        agreement = "n/a" if v.agreement is None else f"{v.agreement:.1%}"
        if v.estimated_agreement is not None:
            agreement += f" (estimated {v.estimated_agreement:.1%})"
        check = (f"max|diff| {v.max_abs_diff:.2e}, mean|diff| {v.mean_abs_diff:.2e}, "
                 f"agreement {agreement} on {v.n_samples} samples: {'passed' if v.passed else 'FAILED'}")
    click.echo(f"{report.format:<12} {report.quantize:<9} {_size(report.size_bytes):>10}  {check}")
    if v is not None and v.latency_ms is not None:
        click.echo(f"latency:  {v.latency_ms:.2f} ms a sample in its runtime (Keras {v.keras_latency_ms:.2f} ms), "
                   "batch 1, median of 7")
    fallback = report.details.get("int8_fallback")
    if fallback:
        full = fallback["full_int8"]
        kept = fallback["float_ops"]
        kinds = ", ".join(f"{k} x{n}" if n > 1 else k
                          for k, n in sorted(collections.Counter(op["op"] for op in kept).items()))
        shown = "n/a" if full["agreement"] is None else f"{full['agreement']:.1%}"
        if fallback["scheme"] == "int8 with some operations in float":
            what = (f"kept {len(kept)} of {fallback['ops_in_model']} operations in float ({kinds or 'none'})")
        else:
            what = f"no handful of operations in float was enough: {fallback['scheme']}"
        click.echo(f"int8:     full-integer agreement {shown} fell short; {what}; size "
                   f"x{fallback['size_ratio_to_full_int8']:.2f} of full int8")
    click.echo(f"artifact: {report.path}")
    click.echo(f"sidecar:  {report.sidecar_path}")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


@cli.command()
@click.argument("target", type=click.Path())
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--threshold", type=float, help="binary/multilabel: decision threshold (default: the run's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (a JSON list, written as rows come).")
@click.option("--strict", is_flag=True, help="Stop at the first input that cannot be read (default: report it, go on).")
@click.option("--draw", "draw_dir", type=click.Path(file_okay=False),
              help="Detection: write each image with its boxes drawn to DIR/<name>.png (boxes then in pixels too).")
def predict(target, inputs, threshold, as_json, strict, draw_dir):
    """Run TARGET (a run folder, .keras, SavedModel, .tflite or .onnx) on INPUTS the plugin can read.

    Results print as they come, a chunk of inputs at a time. An input that cannot be read is
    reported on its line and the others still run; the exit code is then 1.
    """
    from zoo.deploy import iter_predict

    # Runs, .keras files and SavedModels need TensorFlow; a .tflite or .onnx artifact runs without it
    # (unless the plugin's reader uses it), which saves its start-up.
    path = Path(target)
    if path.is_dir() or path.suffix == ".keras":
        load_tensorflow(click.get_current_context().find_root().params.get("verbose", 0))
    from zoo_export.progress import Progress, set_quiet

    # rows printed on the terminal are their own progress; a line is drawn when they go to a file or pipe
    set_quiet(as_json or sys.stdout.isatty())
    bar: dict = {}

    def progress(done, total):
        if "line" not in bar:
            bar["line"] = Progress("predicting", total, unit="inputs")
        bar["line"].update(done - bar["line"].done)

    failed = 0
    first = True  # "[" waits for the first row, so an error before it (--draw on a classifier) prints no partial JSON
    rows = iter_predict(target, list(inputs), threshold=threshold, strict=strict, progress=progress)
    if "tensorflow" not in sys.modules:  # a plugin reader may import it: keep its native start-up lines quiet
        from zoo_export.native import quiet_stderr

        with quiet_stderr():
            head = list(itertools.islice(rows, 1))
        rows = itertools.chain(head, rows)
    drawn: set[str] = set()
    for row in rows:
        failed += "error" in row
        if draw_dir and "error" not in row:
            _draw(row, Path(draw_dir), drawn)
        if as_json:
            click.echo(("[\n" if first else ",\n") + json.dumps(row), nl=False)
            first = False
        else:
            click.echo(_predict_line(row))
    if as_json:
        click.echo(("[\n" if first else "") + "\n]")
    if "line" in bar:
        bar["line"].close()
    if failed:
        click.echo(f"Error: {failed} input(s) could not be read (listed above); the others were predicted", err=True)
        sys.exit(1)


def _draw(row: dict, folder: Path, drawn: set[str]) -> None:
    """`--draw`: the row's image with its boxes -> `folder/<name>.png`; adds `box_pixels` to each box."""
    from zoo.data import draw_boxes

    if "boxes" not in row:
        raise ConfigError("--draw draws boxes, and this model's task predicts none; drop --draw")
    source = Path(str(row["input"]))
    name, k = source.stem, 1
    while name in drawn:  # two inputs with the same name from different folders
        k += 1
        name = f"{source.stem}-{k}"
    drawn.add(name)
    for box, pixels in zip(row["boxes"], draw_boxes(source, row["boxes"], folder / f"{name}.png")):
        box["box_pixels"] = pixels
    row["drawn"] = str(folder / f"{name}.png")


def _predict_line(row: dict) -> str:
    if "error" in row:
        return f"{row['input']}: ERROR {row['error']}"
    if "boxes" in row:  # detection: one line per image, its boxes best first
        found = "; ".join(f"{b['class']} {b['score']:.2f} "
                          f"[{', '.join(str(v) for v in b.get('box_pixels') or [f'{v:.3f}' for v in b['box']])}]"
                          for b in row["boxes"])
        unit = "px" if any("box_pixels" in b for b in row["boxes"]) else "fractions of the image"
        text = f"{row['input']}: {len(row['boxes'])} box(es) above {row['threshold']:.2f}"
        text += f" ({unit}): {found}" if row["boxes"] else ""
        return text + (f" -> {row['drawn']}" if "drawn" in row else "")
    if "answered" in row and "answer" in row:  # answer-span: text recombined from windows by the plugin
        margin = row.get("margin")
        vs = f"margin {margin:.2f} {'>=' if row['answered'] else '<'} threshold {row['threshold']:.2f}" \
            if margin is not None else "no span in the context"
        if row["answered"]:
            return f"{row['input']}: {json.dumps(row['answer'], ensure_ascii=False)} ({vs})"
        return f"{row['input']}: no answer ({vs})"
    if "threshold" in row:
        sign = ">=" if row["score"] >= row["threshold"] else "<"
        return f"{row['input']}: {row['label']} (score {row['score']:.4f} {sign} threshold {row['threshold']:.4f})"
    if "label" in row:
        return f"{row['input']}: {row['label']} ({row['score']:.4f})"
    if "labels" in row:
        return f"{row['input']}: {', '.join(row['labels']) or '-'}"
    if "tags" in row:
        return f"{row['input']}: {' '.join(row['tags'])}"
    if "value" in row:
        return f"{row['input']}: {row['value']}"
    # a task kind of a plugin's own: its decoded fields
    return f"{row['input']}: " + json.dumps({k: v for k, v in row.items() if k != "input"})


from zoo.runs_cli import runs as _runs  # noqa: E402 - the `zoo runs` group

cli.add_command(_runs, "runs")


def main() -> None:
    cli(prog_name="zoo")


if __name__ == "__main__":
    main()
