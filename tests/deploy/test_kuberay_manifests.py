"""deploy/kuberay/ validates offline against the published schemas, and fits fttui.

- the server's PersistentVolumeClaim, Deployment and Service against Kubernetes' own
  JSON schemas as the `kubernetes-validate` package ships them (strict: an unknown
  field is an error, as `kubectl apply --validate=strict` says);
- the RayCluster against the RayCluster CRD's `openAPIV3Schema` of KubeRay v1.7.0,
  vendored beside this file (`raycluster-crd-v1.json` names its source and date),
  closed the way the API server's strict field validation closes it (an object with
  `properties` and without `x-kubernetes-preserve-unknown-fields` takes no others);
- and what no schema knows: the server's arguments parse with fttui's own `serve`
  command, its `--ray-address` is the RayCluster's head service, the images are one,
  the Dockerfile's Ray is the version CI tests (constraints.txt) and the cluster's
  `rayVersion`.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import typer
import yaml

from fttui.commands import build_app
from fttui.server.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KUBERAY = REPO / "deploy" / "kuberay"
CRD = Path(__file__).with_name("raycluster-crd-v1.json")
KUBERNETES = "1.33"  # a Kubernetes release the manifests target (the package ships 1.25+)


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((KUBERAY / name).read_text()) if d]


def _closed(schema: Any) -> Any:
    """The CRD schema with strict field validation: unknown fields are errors."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _raycluster_errors(doc: dict[str, Any]) -> list[str]:
    crd = json.loads(CRD.read_text())
    assert doc["apiVersion"] == f"{crd['group']}/{crd['version']}"
    assert doc["kind"] == crd["kind"]
    validator = jsonschema.Draft7Validator(_closed(crd["openAPIV3Schema"]))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]


def _server_docs() -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in _docs("fttui-server.yaml")}


def test_the_raycluster_validates_against_kuberays_crd() -> None:
    (cluster,) = _docs("raycluster.yaml")
    assert _raycluster_errors(cluster) == []
    # The check can fail: a misspelt field and a wrong type are both caught.
    typo = copy.deepcopy(cluster)
    typo["spec"]["headGroupSpec"]["rayStartParam"] = typo["spec"]["headGroupSpec"].pop(
        "rayStartParams"
    )
    assert any("rayStartParam" in e for e in _raycluster_errors(typo))
    wrong = copy.deepcopy(cluster)
    wrong["spec"]["workerGroupSpecs"][0]["replicas"] = "two"
    assert any("replicas" in e for e in _raycluster_errors(wrong))


def test_the_servers_manifests_validate_against_kubernetes_schemas() -> None:
    docs = _server_docs()
    assert set(docs) == {"PersistentVolumeClaim", "Deployment", "Service"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    typo = copy.deepcopy(docs["Deployment"])
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolcy"):
        kubernetes_validate.validate(typo, KUBERNETES, strict=True)


def test_the_manifests_fit_fttui_and_each_other() -> None:
    (cluster,) = _docs("raycluster.yaml")
    docs = _server_docs()
    deployment, service, claim = docs["Deployment"], docs["Service"], docs["PersistentVolumeClaim"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]

    # fttui's own `serve` command parses the arguments (an unknown option raises),
    # and the server's settings find nothing wrong with them.
    serve = typer.main.get_command(build_app()).commands["serve"]  # type: ignore[attr-defined]
    assert args[0] == "serve"
    seen = serve.make_context("serve", list(args[1:])).params
    settings = Settings.from_args(argparse.Namespace(**seen))
    assert settings.problems() == []
    assert settings.runner == "ray" and str(settings.data_dir) == "/data"
    assert {
        "name": "FTTUI_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "fttui-api-key", "key": "key"}},
    } in container["env"]

    # The server reaches the head's dashboard through KubeRay's head service, and the
    # trainers reach the server through its Service.
    head_service = f"{cluster['metadata']['name']}-head-svc"
    assert seen["ray_address"] == f"http://{head_service}:8265"
    assert cluster["spec"]["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    (port,) = service["spec"]["ports"]
    assert seen["trainer_url"] == f"http://{service['metadata']['name']}:{port['port']}"
    assert int(seen["port"]) == port["port"] == container["ports"][0]["containerPort"]
    assert (
        service["spec"]["selector"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )

    # One server on its data dir: one replica, recreated, the claim mounted at /data.
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (volume,) = pod["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert {"name": volume["name"], "mountPath": "/data"} in container["volumeMounts"]

    # One image everywhere, with the Ray version CI tests.
    images = {container["image"]}
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    images |= {c["image"] for c in head}
    for group in cluster["spec"]["workerGroupSpecs"]:
        images |= {c["image"] for c in group["template"]["spec"]["containers"]}
    assert len(images) == 1, images
    pinned = re.search(r"^ray==(\S+)$", (REPO / "constraints.txt").read_text(), re.M)
    assert pinned is not None
    dockerfile = (KUBERAY / "Dockerfile").read_text()
    assert f"ARG RAY_VERSION={pinned.group(1)}" in dockerfile
    assert cluster["spec"]["rayVersion"] == pinned.group(1)
