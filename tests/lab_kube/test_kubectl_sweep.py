"""A broad sweep of kubectl 1.32 against the lab: every `create` generator of a served kind (they send
protobuf), explain (OpenAPI v3, and v2 on request), client-side validation of review kinds (OpenAPI v2),
tokens bound to a pod, label, annotate, the three patch flavours, status patches and wait, and output
formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.lab_kube.test_kubectl import KUBECTL, get_json, kubectl
from vaultinject.lab.kube import protobuf
from vaultinject.lab.kube.harness import LabKube

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def created(kube: LabKube, *args: str) -> str:
    """Run `kubectl create ...` and return its one line of output."""
    return kubectl(kube, "create", *args).stdout.strip()


def test_create_generators_of_the_core_kinds(kube: LabKube, namespace: str, tmp_path: Path) -> None:
    ns = ["-n", namespace]
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xff binary")
    assert (
        created(kube, "configmap", "c", *ns, "--from-literal=a=b", f"--from-file={blob}")
        == "configmap/c created"
    )
    configmap = get_json(kube, "configmap", "c", *ns)
    assert configmap["data"] == {"a": "b"}
    assert base64.b64decode(configmap["binaryData"]["blob.bin"]) == b"\x00\xff binary"

    ca = trustme.CA()
    cert = ca.issue_cert("web.example")
    (tmp_path / "tls.crt").write_bytes(cert.cert_chain_pems[0].bytes())
    (tmp_path / "tls.key").write_bytes(cert.private_key_pem.bytes())
    tls = ["tls", "web-tls", *ns, f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}"]
    assert created(kube, "secret", *tls) == "secret/web-tls created"
    assert get_json(kube, "secret", "web-tls", *ns)["type"] == "kubernetes.io/tls"
    registry = ["docker-registry", "pull", *ns, "--docker-server=r.example", "--docker-username=u"]
    assert created(kube, "secret", *registry, "--docker-password=p") == "secret/pull created"
    assert get_json(kube, "secret", "pull", *ns)["type"] == "kubernetes.io/dockerconfigjson"

    for kind, extra in (
        ("clusterip", ["--tcp=80:8080"]),
        ("nodeport", ["--tcp=80:8080"]),
        ("loadbalancer", ["--tcp=443:8443"]),
        ("externalname", ["--external-name=db.example"]),
    ):
        assert created(kube, "service", kind, f"s-{kind}", *ns, *extra) == f"service/s-{kind} created"
    services = {s["metadata"]["name"]: s["spec"] for s in get_json(kube, "services", *ns)["items"]}
    assert services["s-clusterip"]["ports"][0] == {
        "name": "80-8080",
        "port": 80,
        "protocol": "TCP",
        "targetPort": 8080,
    }
    assert services["s-nodeport"]["type"] == "NodePort"
    assert services["s-loadbalancer"]["ports"][0]["targetPort"] == 8443
    assert services["s-externalname"]["externalName"] == "db.example"

    assert created(kube, "serviceaccount", "robot", *ns) == "serviceaccount/robot created"
    assert created(kube, "namespace", f"{namespace}-x") == f"namespace/{namespace}-x created"
    assert get_json(kube, "namespace", f"{namespace}-x")["spec"] == {"finalizers": ["kubernetes"]}


def test_create_generators_of_workloads_and_policy(kube: LabKube, namespace: str) -> None:
    ns = ["-n", namespace]
    assert created(kube, "deployment", "idle", *ns, "--image=nginx:1.25", "--replicas=0") == (
        "deployment.apps/idle created"
    )
    deployment = get_json(kube, "deployment", "idle", *ns)
    assert deployment["spec"]["replicas"] == 0  # a pointer: zero is kept, not defaulted to 1
    assert "minReadySeconds" not in deployment["spec"]  # omitempty: Go's JSON leaves the zero out
    assert (
        created(kube, "job", "once", *ns, "--image=busybox", "--", "echo", "hi") == "job.batch/once created"
    )
    assert get_json(kube, "job", "once", *ns)["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "echo",
        "hi",
    ]
    cron = ["cronjob", "tick", *ns, "--image=busybox", "--schedule=*/5 * * * *", "--restart=OnFailure"]
    assert created(kube, *cron) == "cronjob.batch/tick created"
    assert get_json(kube, "cronjob", "tick", *ns)["spec"]["schedule"] == "*/5 * * * *"
    assert created(kube, "job", "manual", *ns, "--from=cronjob/tick") == "job.batch/manual created"
    owner = get_json(kube, "job", "manual", *ns)["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("CronJob", "tick", True)
    pdb = ["poddisruptionbudget", "keep", *ns, "--selector=app=web", "--min-available=50%"]
    assert created(kube, *pdb) == "poddisruptionbudget.policy/keep created"
    assert get_json(kube, "pdb", "keep", *ns)["spec"]["minAvailable"] == "50%"


def test_create_generators_of_rbac(kube: LabKube, namespace: str) -> None:
    ns = ["-n", namespace]
    assert created(kube, "role", "r", *ns, "--verb=get,list", "--resource=pods,secrets") == (
        "role.rbac.authorization.k8s.io/r created"
    )
    assert get_json(kube, "role", "r", *ns)["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get", "list"]}
    ]
    assert created(kube, "rolebinding", "rb", *ns, "--role=r", "--user=ann", "--group=ops") == (
        "rolebinding.rbac.authorization.k8s.io/rb created"
    )
    subjects = get_json(kube, "rolebinding", "rb", *ns)["subjects"]
    assert {(s["kind"], s["name"]) for s in subjects} == {("User", "ann"), ("Group", "ops")}
    name = f"{namespace}-reader"
    assert created(kube, "clusterrole", name, "--verb=get", "--non-resource-url=/healthz") == (
        f"clusterrole.rbac.authorization.k8s.io/{name} created"
    )
    assert get_json(kube, "clusterrole", name)["rules"] == [
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}
    ]
    binding = ["clusterrolebinding", name, f"--clusterrole={name}", f"--serviceaccount={namespace}:default"]
    assert created(kube, *binding) == f"clusterrolebinding.rbac.authorization.k8s.io/{name} created"
    sa = f"--as=system:serviceaccount:{namespace}:default"
    assert kubectl(kube, "auth", "can-i", "get", "/healthz", sa).stdout.strip() == "yes"
    assert kubectl(kube, "auth", "can-i", "get", "pods", *ns, sa, check=False).stdout.strip() == "no"
    assert kubectl(kube, "delete", "clusterrolebinding", name).returncode == 0


def test_create_token_bound_to_a_pod(kube: LabKube, namespace: str) -> None:
    pod = kube.create_pod(namespace, "app-0", service_account="app")
    token = kubectl(
        kube,
        "create",
        "token",
        "app",
        "-n",
        namespace,
        "--audience=vault",
        "--duration=10m",
        "--bound-object-kind=Pod",
        "--bound-object-name=app-0",
        f"--bound-object-uid={pod['metadata']['uid']}",
    ).stdout.strip()
    extra = kube.review_token(token, ["vault"])["status"]["user"]["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["app-0"]
    assert extra["authentication.kubernetes.io/pod-uid"] == [pod["metadata"]["uid"]]
    wrong = kubectl(
        kube,
        "create",
        "token",
        "app",
        "-n",
        namespace,
        "--bound-object-kind=Pod",
        "--bound-object-name=nope",
        check=False,
    )
    assert wrong.returncode == 1
    assert 'pods "nope" not found' in wrong.stderr


def test_explain_reads_the_published_schemas(kube: LabKube) -> None:
    containers = kubectl(kube, "explain", "pod.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in containers
    assert "  name\t<string> -required-" in containers
    assert "  volumeMounts\t<[]VolumeMount>" in containers
    replicas = kubectl(kube, "explain", "deployment.spec.replicas").stdout
    assert "FIELD: replicas <integer>" in replicas
    assert "Defaults to 1." in replicas
    volumes = kubectl(kube, "explain", "pod.spec.volumes").stdout
    assert "  emptyDir\t<EmptyDirVolumeSource>" in volumes  # VolumeSource is inlined, as in Go's JSON
    review = kubectl(kube, "explain", "tokenreview.spec").stdout
    assert "GROUP:      authentication.k8s.io" in review
    assert "  audiences\t<[]string>" in review
    webhook = kubectl(kube, "explain", "mutatingwebhookconfiguration.webhooks.clientConfig.caBundle").stdout
    assert "FIELD: caBundle <string>" in webhook
    assert "FIELD: renewTime <string>" in kubectl(kube, "explain", "lease.spec.renewTime").stdout
    recursive = kubectl(kube, "explain", "rolebinding", "--recursive").stdout
    assert "  roleRef\t<RoleRef> -required-" in recursive
    missing = kubectl(kube, "explain", "pod.spec.nosuch", check=False)
    assert missing.returncode == 1
    assert 'field "nosuch" does not exist' in missing.stderr
    v2 = kubectl(kube, "explain", "pod.spec", "--output=plaintext-openapiv2").stdout
    assert "RESOURCE: spec <Object>" in v2
    assert "   containers\t<[]Object> -required-" in v2


TOKEN_REVIEW = """
apiVersion: authentication.k8s.io/v1
kind: TokenReview
spec:
  {field}: not-a-token
  audiences: [vault]
"""


def test_client_side_validation_of_review_kinds(kube: LabKube, tmp_path: Path) -> None:
    manifest = tmp_path / "review.yaml"
    manifest.write_text(TOKEN_REVIEW.format(field="token"))
    review = json.loads(kubectl(kube, "create", "-f", str(manifest), "-o", "json").stdout)
    assert "authenticated" not in review["status"]  # false, and omitempty
    assert review["status"]["error"]
    manifest.write_text(TOKEN_REVIEW.format(field="tokn"))
    refused = kubectl(kube, "create", "-f", str(manifest), check=False)
    assert refused.returncode == 1
    assert 'unknown field "tokn" in io.k8s.api.authentication.v1.TokenReviewSpec' in refused.stderr
    access = tmp_path / "access.yaml"
    access.write_text(
        "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n"
        "spec:\n  resourceAttributes: {verb: list, resource: pods, namespace: default}\n"
    )
    answer = json.loads(kubectl(kube, "create", "-f", str(access), "-o", "json").stdout)
    assert answer["status"]["allowed"] is True


def test_label_annotate_patch_and_wait(kube: LabKube, namespace: str) -> None:
    ns = ["-n", namespace]
    kube.create_pod(namespace, "p")
    assert kubectl(kube, "label", "pod", "p", *ns, "tier=web").stdout.strip() == "pod/p labeled"
    assert kubectl(kube, "annotate", "pod", "p", *ns, "note=hi").stdout.strip() == "pod/p annotated"
    assert kubectl(kube, "label", "pod", "p", *ns, "tier-").stdout.strip() == "pod/p unlabeled"
    kubectl(kube, "create", "configmap", "c", *ns, "--from-literal=a=1")
    for flavour, patch in (
        ("strategic", '{"data":{"b":"2"}}'),
        ("merge", '{"data":{"a":null}}'),
        ("json", '[{"op":"add","path":"/data/c","value":"3"}]'),
    ):
        result = kubectl(kube, "patch", "configmap", "c", *ns, f"--type={flavour}", "-p", patch)
        assert result.stdout.strip() == "configmap/c patched"
    assert get_json(kube, "configmap", "c", *ns)["data"] == {"b": "2", "c": "3"}
    ready = '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}'
    kubectl(kube, "patch", "pod", "p", *ns, "--subresource=status", "--type=merge", "-p", ready)
    waited = kubectl(kube, "wait", "--for=condition=Ready", "pod/p", *ns, "--timeout=10s")
    assert waited.stdout.strip() == "pod/p condition met"
    by_path = kubectl(kube, "wait", "--for=jsonpath={.metadata.annotations.note}=hi", "pod/p", *ns)
    assert by_path.stdout.strip() == "pod/p condition met"
    assert kubectl(kube, "delete", "pod", "p", *ns, "--wait=true").stdout.strip() == 'pod "p" deleted'
    gone = kubectl(kube, "wait", "--for=delete", "pod/p", *ns, "--timeout=5s", check=False)
    assert gone.returncode == 0, gone.stderr


def test_output_formats(kube: LabKube, namespace: str) -> None:
    ns = ["-n", namespace]
    kubectl(kube, "create", "deployment", "web", *ns, "--image=nginx:1.25", "--port=80")
    as_json: Any = json.loads(kubectl(kube, "get", "deployment", "web", *ns, "-o", "json").stdout)
    as_yaml = kubectl(kube, "get", "deployment", "web", *ns, "-o", "yaml").stdout
    assert as_json["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    assert "    type: RollingUpdate\n" in as_yaml
    kube.create_pod(namespace, "web-0", node_name="node-1")
    wide = kubectl(kube, "get", "pod", "web-0", *ns, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["IP", "NODE"]
    assert wide[1].split()[6] == "node-1"
    assert kubectl(kube, "get", "pod", "web-0", *ns, "-o", "jsonpath={.spec.nodeName}").stdout == "node-1"
    names = kubectl(kube, "get", "deployment,serviceaccount", *ns, "-o", "name").stdout.split()
    assert names == ["deployment.apps/web", "serviceaccount/default"]
    assert "tolerations" not in as_json["spec"]["template"]["spec"]


MANY_KINDS = """
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: {ns}}}
rules: [{{apiGroups: [""], resources: [configmaps], verbs: [get]}}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: tick, namespace: {ns}}}
spec:
  schedule: "@hourly"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: app, image: busybox, resources: {{limits: {{cpu: 1, memory: 64Mi}}}}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web, namespace: {ns}}}
spec: {{maxUnavailable: 1, selector: {{matchLabels: {{app: web}}}}}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: leader, namespace: {ns}}}
spec: {{holderIdentity: a, leaseDurationSeconds: 15, renewTime: "2024-05-01T10:00:00.123456Z"}}
"""


def test_apply_of_many_kinds_client_and_server_side(kube: LabKube, namespace: str) -> None:
    manifest = MANY_KINDS.format(ns=namespace)
    lines = kubectl(kube, "apply", "-f", "-", stdin=manifest).stdout.splitlines()
    assert lines == [
        "service/web created",
        "role.rbac.authorization.k8s.io/reader created",
        "cronjob.batch/tick created",
        "poddisruptionbudget.policy/web created",
        "lease.coordination.k8s.io/leader created",
    ]
    again = kubectl(kube, "apply", "--server-side", "-f", "-", stdin=manifest).stdout.splitlines()
    assert all(line.endswith("serverside-applied") for line in again), again


def _without_null_times(value: Any) -> Any:
    """Go marshals a zero metav1.Time as null; the decoder leaves it out (the server ignores both)."""
    if isinstance(value, dict):
        return {k: _without_null_times(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_null_times(v) for v in value]
    return value


GENERATORS = [
    ["configmap", "g-cm", "--from-literal=a=b", "--from-literal=empty="],
    ["secret", "generic", "g-secret", "--from-literal=password=hunter2", "--type=Opaque"],
    ["serviceaccount", "g-sa"],
    ["deployment", "g-deploy", "--image=nginx:1.25", "--replicas=0", "--port=8080", "--", "nginx", "-g"],
    ["service", "clusterip", "g-svc", "--tcp=80:http", "--tcp=443:8443"],
    ["service", "clusterip", "g-headless", "--clusterip=None"],
    ["service", "nodeport", "g-np", "--tcp=80:8080", "--node-port=30080"],
    ["service", "externalname", "g-ext", "--external-name=db.example"],
    ["job", "g-job", "--image=busybox", "--", "sh", "-c", "exit 0"],
    ["cronjob", "g-cron", "--image=busybox", "--schedule=@daily", "--restart=Never"],
    ["role", "g-role", "--verb=get", "--resource=pods", "--resource-name=a"],
    ["rolebinding", "g-rb", "--clusterrole=view", "--serviceaccount=default:default"],
    ["poddisruptionbudget", "g-pdb", "--selector=app=x", "--max-unavailable=1"],
    [
        "secret",
        "docker-registry",
        "g-pull",
        "--docker-server=r.example",
        "--docker-username=u",
        "--docker-password=p",
    ],
    ["service", "loadbalancer", "g-lb", "--tcp=443:8443"],
    ["namespace", "g-ns-{namespace}"],
    ["clusterrole", "g-agg-{namespace}", "--aggregation-rule=rbac.example/aggregate=true"],
    [
        "clusterrole",
        "g-cr-{namespace}",
        "--verb=get",
        "--resource=deployments.apps",
        "--non-resource-url=/x",
    ],
    ["clusterrolebinding", "g-crb-{namespace}", "--clusterrole=view", "--group=ops", "--user=ann"],
]


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda g: "-".join(g[:2]))
def test_the_decoder_reads_what_kubectl_meant(
    kube: LabKube, namespace: str, generator: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubectl's protobuf body, decoded, equals the JSON Go marshals from the same object."""
    decoded: list[Any] = []
    original = protobuf.decode

    def recording(body: bytes) -> Any:
        decoded.append(original(body))
        return decoded[-1]

    monkeypatch.setattr(protobuf, "decode", recording)
    args = ["create", "-n", namespace, *(a.format(namespace=namespace) for a in generator)]
    meant = json.loads(kubectl(kube, *args[:3], "--dry-run=client", "-o", "json", *args[3:]).stdout)
    kubectl(kube, *args)
    assert decoded == [_without_null_times(meant)]
