"""The pod network: a pod reaches a Service by its name through the hosts file and the Service proxy, and
when the pod behind the Service dies, the next connection reaches another one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.lab_cluster.cluster import Cluster, lab_cluster
from vaultinject.lab.kube.harness import wait_for

SERVER = """
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["POD_NAME"].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8080), Handler).serve_forever()
"""
CLIENT = """
import time, urllib.request
while True:
    try:
        print("answer", urllib.request.urlopen("http://echo.default.svc/", timeout=2).read().decode(), flush=True)
    except OSError as error:
        print("failed", error, flush=True)
    time.sleep(0.2)
"""


def _manifests() -> str:
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    ]
    server = {
        "name": "server",
        "image": "python",
        "command": [sys.executable, "-c", SERVER],
        "env": env,
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "echo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "echo"}},
            "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": [server]}},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    client = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "client"},
        "spec": {
            "containers": [{"name": "client", "image": "python", "command": [sys.executable, "-c", CLIENT]}]
        },
    }
    return "\n".join(json.dumps(m) for m in (deployment, service, client))


def _answers(cluster: Cluster) -> list[str]:
    return cluster.kubectl("logs", "client").stdout.splitlines()


def test_a_pod_reaches_a_service_by_name_and_fails_over_when_its_pod_dies(tmp_path: Path) -> None:
    with lab_cluster(tmp_path, nodes=2) as cluster:
        cluster.apply(_manifests())
        cluster.ok("rollout", "status", "deployment/echo", "--timeout=60s")
        servers = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in cluster.pods("app=echo")}
        assert sorted(servers.values()) == ["node-1", "node-2"]
        wait_for(lambda: len([a for a in _answers(cluster) if a.startswith("answer")]) >= 4, timeout=30)
        reached = {a.split()[1] for a in _answers(cluster) if a.startswith("answer")}
        assert reached <= set(servers)

        # The client runs on one node; kill the other node, and with it the server pod there.
        client_node = cluster.pod("default", "client")["spec"]["nodeName"]
        (victim,) = [name for name, node in servers.items() if node != client_node]
        (survivor,) = [name for name in servers if name != victim]
        cluster.stop_node(servers[victim])
        before = len(_answers(cluster))
        wait_for(lambda: len(_answers(cluster)) >= before + 8, timeout=30)
        after = _answers(cluster)[before + 1 :]
        assert after
        assert all(line == f"answer {survivor}" for line in after), after
