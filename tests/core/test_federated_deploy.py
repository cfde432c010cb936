"""`zoo federate --coordinator` and `zoo site`: Flower's deployment engine as real processes on 127.0.0.1.

The coordinator starts a SuperLink; each `zoo site` is a SuperNode of its own, holding only its own
`.npz`. Sites a and b are the simulation tests' sites (b a second scanner: darker, shifted).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from zoo_cli_helpers import toy_sites, zoo
from zoo_toy import make_arrays

pytest.importorskip("flwr")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    folder = toy_sites(tmp_path_factory.mktemp("deployed-sites"))
    x, y = make_arrays(90, 3)
    keep = y != 2
    np.savez(folder / "no-blue.npz", x=x[keep], y=y[keep])
    return folder


def certificates(folder):
    """A certificate authority and a server certificate it signs for 127.0.0.1, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def issue(subject, issuer, key, signer, ca):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keras-zoo test CA")])
    ca = issue(ca_name, ca_name, ca_key, ca_key, True)
    server = issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, server_key, ca_key,
                   False)
    paths = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.TraditionalOpenSSL,
                                                      serialization.NoEncryption()))
    return paths


def _free_port() -> int:
    from zoo.training.flower_deploy import free_port

    return free_port()


def _zoo(toy_target, *args, cwd=None):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(toy_target), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "zoo.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def _federation(toy_target, sites, tmp_path, site_data: dict, coordinator_args, site_args, *extra):
    """`zoo federate --coordinator` and one `zoo site` per entry of `site_data`; the coordinator's result."""
    address = f"127.0.0.1:{_free_port()}"
    runs = tmp_path / "runs"
    coordinator = _zoo(toy_target, "federate", "--plugin", "toy", "--coordinator", address, *coordinator_args,
                       *sum((["--site", name] for name in ["a", "b"]), []), "--data", str(sites / "hold.npz"),
                       "--runs-dir", str(runs), *extra)
    members = [_zoo(toy_target, "site", "--coordinator", address, "--name", name, "--data", str(data),
                    "--work-dir", str(tmp_path / f"site-{name}"), "--wait", "300", *site_args)
               for name, data in site_data.items()]
    try:
        out, err = coordinator.communicate(timeout=900)
    finally:
        for member in members:  # a site stays until it is stopped; SIGTERM is how it is asked to leave
            member.send_signal(signal.SIGTERM)
        left = [member.communicate(timeout=60) for member in members]
    return coordinator.returncode, out, err, runs, members, left


def test_a_deployed_federation_over_tls_is_an_ordinary_run(toy_target, sites, tmp_path):
    tls = certificates(tmp_path)
    code, out, err, runs, members, left = _federation(
        toy_target, sites, tmp_path, {"a": sites / "a.npz", "b": sites / "b.npz"},
        ["--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"]), "--tls-ca", str(tls["ca"])],
        ["--tls-ca", str(tls["ca"])], "--rounds", "3", "--local-epochs", "3", "--strategy", "full",
        "--batchnorm", "train")
    assert code == 0, err[-3000:]
    (run,) = runs.iterdir()
    meta = json.loads((run / "zoo.json").read_text())
    fed = meta["federated"]
    assert meta["status"] == "complete" and fed["engine"] == "flower deployment"
    assert fed["coordinator"]["tls"] is True and fed["coordinator"]["ca"] == str(tls["ca"])
    # the sites' data stayed with them: the coordinator knows names and the counts they reported
    assert fed["sites"] == [{"name": "a", "data": None}, {"name": "b", "data": None}]
    assert fed["samples_per_site"]["a"]["train"] > 0 and fed["samples_per_site"]["b"]["train"] > 0
    assert meta["samples"]["train"] == sum(c["train"] for c in fed["samples_per_site"].values())
    assert [r["round"] for r in fed["rounds_log"]] == [1, 2, 3] and fed["aggregated_rounds"] == 3
    for entry in fed["rounds_log"]:  # each site trained and evaluated once per round
        assert sorted(entry["train"]["sites"]) == ["a", "b"] and sorted(entry["evaluate"]["sites"]) == ["a", "b"]
        assert entry["train"]["bytes_up"] >= 2 * fed["travelling"]["bytes"]
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3 and "val_accuracy" in rows[0]
    assert meta["metrics"]["test"]["accuracy"] > 0.6  # 3 classes: chance is 0.33
    # Flower's own processes, on TLS: the SuperLink served HTTPS, each site is a SuperNode with its node config
    assert "insecure" not in (run / "federation" / "superlink.log").read_text().lower()
    for name, member in zip("ab", members):
        assert member.returncode == 0 and f"site {name}: left the federation" in left["ab".index(name)][0]
        config = (tmp_path / f"site-{name}" / "node-config.toml").read_text()
        assert f'site = "{name}"' in config and str(sites / f"{name}.npz") in config
    out = zoo("evaluate", str(run), "--data", str(sites / "hold.npz"), path=toy_target)
    assert out.returncode == 0, out.stderr


def test_a_deployed_federation_runs_secure_aggregation_between_real_processes(toy_target, sites, tmp_path):
    code, out, err, runs, members, left = _federation(
        toy_target, sites, tmp_path, {"a": sites / "a.npz", "b": sites / "b.npz"}, ["--insecure"], ["--insecure"],
        "--rounds", "2", "--strategy", "full", "--secure-aggregation")
    assert code == 0, err[-3000:]
    (run,) = runs.iterdir()
    fed = json.loads((run / "zoo.json").read_text())["federated"]
    assert fed["engine"] == "flower deployment" and fed["secure_aggregation"]["reconstruction_threshold"] == 2
    for entry in fed["rounds_log"]:  # SecAgg+'s four stages between the SuperLink and two SuperNodes
        assert entry["train"]["secure_aggregation"] == {"stages": 4, "sites_masked": 2}
        assert sorted(entry["train"]["sites"]) == ["a", "b"] and entry["train"]["failed"] == 0
    assert all(member.returncode == 0 for member in members)


def test_a_site_that_cannot_join_is_named_before_any_round(toy_target, sites, tmp_path):
    # site b lacks a class: refused when the sites describe their data, before round 1
    code, _, err, runs, _, _ = _federation(toy_target, sites, tmp_path, {"a": sites / "a.npz",
                                                                         "b": sites / "no-blue.npz"},
                                           ["--insecure"], ["--insecure"], "--rounds", "2")
    assert code == 2, err[-3000:]
    assert "site 'b' has no training samples of class 'blue'" in err and err.strip().count("\n") == 0
    (run,) = runs.iterdir()
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["status"] == "failed" and "site 'b'" in meta["error"]
    assert not (run / "checkpoints" / "federation.npz").exists()  # no round ran
    # site b never starts: the coordinator says which site did not join, and how to start it
    code, _, err, _, _, _ = _federation(toy_target, sites, tmp_path / "missing", {"a": sites / "a.npz"},
                                        ["--insecure", "--wait", "20"], ["--insecure"], "--rounds", "2")
    assert code == 2, err[-3000:]
    assert "site 'b' did not join the coordinator" in err and "zoo site --coordinator" in err


def test_a_coordinator_that_does_not_answer_is_named(toy_target, sites, tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    out = zoo("site", "--coordinator", address, "--insecure", "--name", "a", "--data", str(sites / "a.npz"),
              "--wait", "1", "--work-dir", str(tmp_path / "a"), path=toy_target)
    assert out.returncode == 2, out.stderr
    assert f"the coordinator at {address} does not answer" in out.stderr and out.stderr.count("\n") == 1
    out = zoo("site", "--coordinator", address, "--name", "a", "--data", str(sites / "a.npz"), path=toy_target)
    assert out.returncode == 2 and "--tls-ca" in out.stderr and "--insecure" in out.stderr
    out = zoo("site", "--coordinator", address, "--insecure", "--name", "a", "--data", str(tmp_path / "none.npz"),
              path=toy_target)
    assert out.returncode == 2 and "none.npz: no such file" in out.stderr


@pytest.mark.parametrize("args, message", [
    (["--coordinator", "127.0.0.1:9", "--site", "a", "--site", "b"], "--coordinator needs TLS"),
    (["--coordinator", "nowhere", "--insecure", "--site", "a", "--site", "b"], "must look like HOST:PORT"),
    (["--coordinator", "127.0.0.1:9", "--insecure", "--site", "a=A", "--site", "b"],
     "a site's data stays at the site"),
    (["--coordinator", "127.0.0.1:9", "--insecure", "--demo-sites", "2"], "start zoo site at each site"),
    (["--insecure", "--site", "a=A", "--site", "b=B"], "go with --coordinator"),
])
def test_bad_deployments_are_refused_before_anything_runs(toy_target, tmp_path, args, message):
    out = zoo("federate", "--plugin", "toy", "--runs-dir", str(tmp_path / "runs"), *args, path=toy_target)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and out.stderr.count("\n") <= 2
    assert not (tmp_path / "runs").exists()
