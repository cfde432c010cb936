"""`zoo federate --coordinator` and `zoo site`: a federation across machines, on Flower's deployment engine.

The coordinator's machine runs `zoo federate --coordinator HOST:PORT --site a --site b ...`. It
builds the model and fits the preprocessing on its own held-out data as in simulation, then starts
Flower's `flower-superlink` listening on HOST:PORT and submits the federation to it as a Flower
app (`flwr run`). The app's `ServerApp` runs beside the SuperLink, on the coordinator's disk: it
waits for the listed sites, asks each to describe its data (classes, inputs, sample counts; no
samples), runs the rounds (`federated.serve`, the same rounds as in simulation: retries,
`--min-sites`, a checkpoint per aggregated round) and leaves the result in the run folder. Once
the app ends, `zoo federate` stops the SuperLink and finishes the run (evaluation, model card).

Each site runs `zoo site --coordinator HOST:PORT --name a --data DIR`: Flower's
`flower-supernode`, connected to the SuperLink, with the site's name and data in its node
configuration. The data never leaves that machine; the site's `ClientApp` (the same as in
simulation, `federated.site_app`) reads it with the plugin's adapter, which must be installed
there too.

TLS: the coordinator takes `--tls-cert`, `--tls-key` and `--tls-ca` (the SuperLink's certificate,
its key, and the certificate authority that signed it), the sites `--tls-ca`; `--insecure` on both
sides runs without encryption, for a trusted network or a test on one machine.

Files in the run folder: `federation/app/` (the Flower app, its configuration in
`pyproject.toml`), `federation/job.json` and `federation/start.npz` (what the `ServerApp` starts
from), `federation/superlink.log` and `federation/flwr-run.log` (Flower's own logs),
`federation/result.npz` or `federation/error.json` (how the app ended).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.errors import ConfigError, DataError, ZooError

FOLDER = "federation"  # in the run folder
APP_PACKAGE = "zoo_federation_app"


def parse_address(address: str, option: str = "--coordinator") -> tuple[str, int]:
    """`"HOST:PORT"` -> `(host, port)`; `ConfigError` naming the option otherwise."""
    host, sep, port = str(address).strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{option} {address!r} must look like HOST:PORT (for example 127.0.0.1:9092 or "
                          "coordinator.example.org:9092)")
    return host, int(port)


@dataclass(frozen=True)
class Coordinator:
    """Where the SuperLink listens, and its TLS files (or `insecure`)."""

    address: str
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    insecure: bool = False
    wait_s: float = 300.0  # how long the coordinator waits for every listed site to join

    def validate(self) -> None:
        parse_address(self.address)
        if self.wait_s <= 0:
            raise ConfigError(f"--wait must be above 0 seconds, got {self.wait_s}")
        given = {"--tls-cert": self.tls_cert, "--tls-key": self.tls_key, "--tls-ca": self.tls_ca}
        if self.insecure:
            if any(given.values()):
                raise ConfigError("--insecure runs without TLS; drop it or drop " +
                                  ", ".join(k for k, v in given.items() if v))
            return
        missing = [k for k, v in given.items() if not v]
        if missing:
            raise ConfigError(f"--coordinator needs TLS: give {', '.join(missing)} (the SuperLink's certificate, "
                              "its key, the authority that signed it), or --insecure on a trusted network")
        for option, path in given.items():
            if not Path(path).is_file():
                raise ConfigError(f"{option} {path}: no such file")

    def check_free(self) -> None:
        """`ConfigError` when this machine cannot listen at the address (in use, or not one of its own)."""
        self.validate()
        host, port = parse_address(self.address)
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the SuperLink's server does
            try:
                sock.bind((host, port))
            except OSError as exc:
                raise ConfigError(f"--coordinator {self.address}: cannot listen there ({exc.strerror or exc}); "
                                  "choose a free port, or stop what listens on it") from None

    @property
    def local(self) -> str:
        """The address this machine reaches the SuperLink at (`0.0.0.0` listens everywhere, answers on loopback)."""
        host, port = parse_address(self.address)
        return f"127.0.0.1:{port}" if host in ("0.0.0.0", "::") else self.address

    def to_json(self) -> dict:
        out = {"address": self.address, "tls": not self.insecure, "wait_s": self.wait_s}
        if not self.insecure:
            out.update(certificate=self.tls_cert, key=self.tls_key, ca=self.tls_ca)
        return out

    @classmethod
    def from_json(cls, entry: dict) -> Coordinator:
        wait_s = float(entry.get("wait_s", 300.0))
        if not entry.get("tls"):
            return cls(entry["address"], insecure=True, wait_s=wait_s)
        return cls(entry["address"], entry.get("certificate"), entry.get("key"), entry.get("ca"), wait_s=wait_s)


def answers(address: str, seconds: float) -> str | None:
    """`None` once something accepts a connection at `address` within `seconds`, else why not."""
    host, port = parse_address(address)
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=2.0):
                return None
        except OSError as exc:
            reason = exc.strerror or str(exc)
        if time.monotonic() >= deadline:
            return reason
        time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(home: Path | None = None) -> dict:
    """Flower's commands find each other on PATH: this interpreter's scripts first."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if home is not None:
        env["FLWR_HOME"] = str(home)
    return env


def _flower(command: str) -> str:
    path = Path(sys.executable).parent / command
    return str(path) if path.exists() else command


def _stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _last_line(path: Path) -> str:
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# --------------------------------------------------------------------------- the coordinator

def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def write_app(folder: Path, settings: dict) -> Path:
    """The Flower app `flwr run` submits: two lines of code and the run's configuration (what the sites read)."""
    app = folder / "app"
    (app / APP_PACKAGE).mkdir(parents=True, exist_ok=True)
    (app / APP_PACKAGE / "__init__.py").write_text(
        '"""The keras-zoo federation, as a Flower app (written by zoo federate --coordinator)."""\n\n'
        "from zoo.training.flower_deploy import deployed_client_app, deployed_server_app\n\n"
        "server = deployed_server_app()\nclient = deployed_client_app()\n")
    config = "".join(f"{key} = {_toml_string(value)}\n" for key, value in settings.items())
    (app / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "zoo-federation"\nversion = "1.0.0"\ndependencies = []\n\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{APP_PACKAGE}"]\n\n'
        '[tool.flwr.app]\npublisher = "keras-zoo"\n\n'
        f'[tool.flwr.app.components]\nserverapp = "{APP_PACKAGE}:server"\nclientapp = "{APP_PACKAGE}:client"\n\n'
        f"[tool.flwr.app.config]\n{config}")
    return app


def deploy(plugin, recipe, federation, model, travel, base, run: Path, done: int, state: dict, expects):
    """Rounds `done + 1 ..` on Flower's deployment engine; `(rounds_log, history rows, samples per site)`."""
    from zoo.training.callbacks import write_npz
    from zoo.training.federated import site_settings

    coordinator = federation.coordinator
    coordinator.check_free()
    host, port = parse_address(coordinator.address)
    run = Path(run).resolve()  # Flower's processes run in the app's folder
    folder = run / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("result.npz", "error.json"):
        (folder / stale).unlink(missing_ok=True)
    classes, inputs = expects
    weights = model.weights
    job = {"federation": federation.to_json(), "travel": travel, "base": list(base), "done": done, "state": state,
           "classes": classes, "inputs": inputs, "wait_s": coordinator.wait_s, "timeout_s": federation.timeout_s}
    (folder / "job.json").write_text(json.dumps(job, indent=1, default=str))
    write_npz(folder / "start.npz", {**{f"w{i}": np.asarray(weights[i].numpy()) for i in travel},
                                     **{f"b{i}": np.asarray(weights[i].numpy()) for i in base}})
    app = write_app(folder, {
        "run": str(run), "plugin": plugin.name, "recipe": json.dumps(recipe.to_dict(), default=str),
        "sites": json.dumps([s.name for s in federation.sites]),
        "settings": json.dumps(site_settings(federation, run, done))})
    home = folder / "flower"
    home.mkdir(exist_ok=True)
    connection = {"address": coordinator.local}
    connection.update({"insecure": True} if coordinator.insecure else {"root-certificates": coordinator.tls_ca})
    (home / "config.toml").write_text('[superlink]\ndefault = "zoo"\n\n[superlink.zoo]\n' + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in connection.items()))
    tls = ["--insecure"] if coordinator.insecure else ["--ssl-certfile", coordinator.tls_cert, "--ssl-keyfile",
                                                       coordinator.tls_key, "--ssl-ca-certfile", coordinator.tls_ca]
    env = _environment(home)
    with open(folder / "superlink.log", "w") as log:
        link = subprocess.Popen([_flower("flower-superlink"), "--host", host, "--port", str(port),
                                 "--disable-runtime-dependency-installation", *tls],
                                stdout=log, stderr=subprocess.STDOUT, cwd=folder, env=env)
    try:
        deadline = time.monotonic() + 60
        while answers(coordinator.local, 0) is not None:
            if link.poll() is not None or time.monotonic() > deadline:
                raise ZooError(f"the SuperLink did not start on {coordinator.address}: "
                               f"{_last_line(folder / 'superlink.log')} (see {folder / 'superlink.log'})")
            time.sleep(0.3)
        limit = coordinator.wait_s + federation.timeout_s * (federation.rounds - done) * 2
        with open(folder / "flwr-run.log", "w") as log:
            try:
                submitted = subprocess.run([_flower("flwr"), "run", str(app), "zoo", "--stream"], stdout=log,
                                           stderr=subprocess.STDOUT, cwd=folder, env=env, timeout=limit)
            except subprocess.TimeoutExpired:
                raise ZooError(f"the federation did not end within {limit:.0f} s; the last aggregated round is "
                               "kept: continue with zoo federate --resume RUN") from None
    finally:
        _stop(link)
    if (folder / "error.json").is_file():
        failure = json.loads((folder / "error.json").read_text())
        kind = {"DataError": DataError, "ConfigError": ConfigError}.get(failure["kind"], ZooError)
        raise kind(failure["error"])
    if not (folder / "result.npz").is_file():
        raise ZooError(f"the federation ended without a result (flwr run exited {submitted.returncode}: "
                       f"{_last_line(folder / 'flwr-run.log')}); see {folder / 'flwr-run.log'} and "
                       f"{folder / 'superlink.log'}")
    from zoo.training.federated import set_indexed

    with np.load(folder / "result.npz") as saved:
        outcome = json.loads(bytes(saved["outcome"]).decode())
        set_indexed(model, {i: saved[f"w{i}"] for i in travel})
    return outcome["rounds_log"], outcome["history"], outcome["counts"]


def gather(grid, federation, classes: list, inputs: dict, wait_s: float) -> dict[str, dict[str, int]]:
    """Wait for every listed site, ask each to describe its data, check them together (before any round).

    Returns the sample counts per site; `ZooError` naming the site when one is missing or cannot join.
    """
    from flwr.app import ConfigRecord, Message, RecordDict

    from zoo.training.federated import check_described

    names = [s.name for s in federation.sites]
    address = federation.coordinator.address
    deadline = time.monotonic() + wait_s
    nodes = list(grid.get_node_ids())
    while len(nodes) < len(names) and time.monotonic() < deadline:
        time.sleep(0.5)
        nodes = list(grid.get_node_ids())
    messages = [Message(RecordDict({"config": ConfigRecord({"ask": "describe"})}), dst_node_id=node,
                        message_type="query") for node in nodes]
    replies = list(grid.send_and_receive(messages, timeout=max(60.0, wait_s))) if messages else []
    described: dict[str, dict] = {}
    for reply in replies:
        if reply.has_error():
            raise ZooError(f"a site (Flower node {reply.metadata.src_node_id}) could not describe its data: "
                           f"{reply.error.reason}")
        entry = json.loads(reply.content["config"]["described"])
        index = int(reply.content["metrics"]["site"])
        if index >= 0 and names[index] in described:
            raise DataError(f"two sites joined as {names[index]!r}; give each site its own zoo site --name")
        if "classes" not in entry:  # its data could not be read, or it is not one of the listed sites
            error = entry.get("error", "no description")
            if index >= 0 and not error.startswith("site "):
                error = f"site {names[index]!r}: {error}"
            raise DataError(error)
        described[names[index]] = entry
    missing = [name for name in names if name not in described]
    if missing:
        raise ZooError(f"site {missing[0]!r} did not join the coordinator at {address} within {wait_s:.0f} s "
                       f"({len(described)} of {len(names)} sites did); start it there with zoo site --coordinator "
                       f"ADDRESS --name {missing[0]} --data DATA")
    return {name: check_described(name, described[name], classes, inputs) for name in names}


def deployed_server_app():
    """The federation's `ServerApp` under the deployment engine: reads its job from the run folder, leaves its
    result there (`result.npz`, or `error.json` with the one-line error `zoo federate` prints)."""
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context):
        from zoo.training.callbacks import write_npz
        from zoo.training.federated import Federation, serve

        run = Path(str(context.run_config["run"]))
        folder = run / FOLDER
        try:
            job = json.loads((folder / "job.json").read_text())
            federation = Federation.from_json(job["federation"])
            federation.timeout_s = float(job["timeout_s"])
            counts = gather(grid, federation, job["classes"], job["inputs"], float(job["wait_s"]))
            travel, done = [int(i) for i in job["travel"]], int(job["done"])
            with np.load(folder / "start.npz") as saved:
                arrays = [saved[f"w{i}"] for i in travel]
                base = {int(i): saved[f"b{i}"] for i in job["base"]}
            final, counting = serve(grid, federation, travel, arrays, base, run, done, job["state"], counts)
            outcome = {"rounds_log": [counting.rounds[r] for r in sorted(counting.rounds) if r],
                       "history": counting.history(), "counts": counts}
            write_npz(folder / "result.npz", {**{f"w{i}": a for i, a in zip(travel, final)},
                                              "outcome": np.frombuffer(json.dumps(outcome).encode(), np.uint8)})
        except BaseException as exc:  # noqa: BLE001 - handed to zoo federate, which prints it and exits 2
            kind = type(exc).__name__ if isinstance(exc, ZooError) else "ZooError"
            text = str(exc) if isinstance(exc, ZooError) else f"the coordinator failed: {type(exc).__name__}: {exc}"
            (folder / "error.json").write_text(json.dumps({"kind": kind, "error": text}))

    return app


def deployed_client_app():
    """The sites' `ClientApp` under the deployment engine: the site's name and data come from its node
    configuration (`zoo site`), the plugin, recipe and federation from the run's configuration."""
    from zoo.training.federated import Site, site_app

    def locate(context):
        config = context.run_config
        names = json.loads(str(config["sites"]))
        name = str(context.node_config.get("site", ""))
        if name not in names:
            raise ConfigError(f"a site named {name!r} joined, but the federation lists {names}: start zoo site "
                              "with --name one of them, or add --site NAME at the coordinator")
        # the site's own state of this federation (batch norm under FedBN, optimizer moments), on its own disk
        state = Path(str(context.node_config["state"])) / Path(str(config["run"])).name
        settings = dict(json.loads(str(config["settings"])), site_dir=str(state))
        site = Site(name, data=str(context.node_config["data"]))
        return names.index(name), site, str(config["plugin"]), json.loads(str(config["recipe"])), settings

    def private(context) -> bool:
        return bool(json.loads(str(context.run_config["settings"]))["private"])

    return site_app(locate, private)


# --------------------------------------------------------------------------- a site

def run_site(address: str, name: str, data: str, *, tls_ca: str | None = None, insecure: bool = False,
             work_dir: str | Path | None = None, wait_s: float = 60.0, port: int | None = None,
             echo=print) -> int:
    """`zoo site`: this machine's data joins the federation at `address` until it is stopped; the exit code."""
    import signal

    from zoo.training.federated import _NAME

    parse_address(address)
    if not _NAME.match(name):
        raise ConfigError(f"--name {name!r} must be letters, digits, '.', '_' or '-' (up to 64, starting with a "
                          "letter or digit)")
    if insecure == bool(tls_ca):
        raise ConfigError("zoo site needs --tls-ca CERT (the authority that signed the coordinator's certificate) "
                          "or --insecure on a trusted network, one of them")
    if tls_ca and not Path(tls_ca).is_file():
        raise ConfigError(f"--tls-ca {tls_ca}: no such file")
    if not Path(data).exists():
        raise DataError(f"--data {data}: no such file or folder; give the site's own data")
    work = Path(work_dir or f"zoo-site-{name}").resolve()
    work.mkdir(parents=True, exist_ok=True)
    why = answers(address, wait_s)
    if why is not None:
        raise ConfigError(f"the coordinator at {address} does not answer ({why}) after {wait_s:.0f} s; start "
                          "zoo federate --coordinator there first, or check the address and port")
    node_config = work / "node-config.toml"  # what the site's ClientApp reads: its name, its data, its own state
    node_config.write_text("".join(f"{key} = {_toml_string(value)}\n" for key, value in
                                   {"site": name, "data": str(Path(data).resolve()), "state": str(work)}.items()))
    tls = ["--insecure"] if insecure else ["--root-certificates", str(tls_ca)]
    command = [_flower("flower-supernode"), "--superlink", address, "--port", str(port or free_port()),
               "--node-config", str(node_config), *tls]
    with open(work / "supernode.log", "a") as log:
        node = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work, env=_environment())

    stopping: list[float] = []

    def leave(_signum, _frame):  # no waiting here: the loop below reaps the SuperNode
        stopping.append(time.monotonic())
        if node.poll() is None:
            node.terminate()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, leave)
    echo(f"site {name}: joined the coordinator at {address} with {data}; its data stays here "
         f"(Flower's log: {work / 'supernode.log'}). Stop with Ctrl-C.")
    while True:
        try:
            code = node.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if stopping and time.monotonic() - stopping[0] > 20:
                node.kill()
    if stopping:
        echo(f"site {name}: left the federation")
        return 0
    return code
