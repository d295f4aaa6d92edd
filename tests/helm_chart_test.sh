#!/usr/bin/env bash
# deploy/helm/scalelaw renders to valid Kubernetes objects that name the image,
# resources, ports and volume from values.yaml, and values given at install
# flow through. `helm` is not packaged in Debian, so this renders the chart's
# templates with the small subset of Helm's syntax they use ({{ .Values.x }},
# {{ .Release.Name/Namespace }}, {{- if .Values.x }} ... {{- end }}) and fails
# on anything else left unrendered.
set -euo pipefail
chart=$1/deploy/helm/scalelaw
/usr/bin/python3 - "$chart" <<'PY'
import copy, glob, json, re, sys
import yaml
chart = sys.argv[1]
meta = yaml.safe_load(open(f"{chart}/Chart.yaml"))
assert meta["apiVersion"] == "v2" and meta["name"] == "scalelaw", meta
defaults = yaml.safe_load(open(f"{chart}/values.yaml"))

class RenderError(Exception):
    pass

def lookup(path, values, release):
    parts = path.split(".")
    if parts[0] == "Release":
        return release[parts[1]]
    assert parts[0] == "Values", path
    node = values
    for p in parts[1:]:
        node = node[p]
    return node

def render(text, values, release):
    # {{- if .X }} ... {{- end }} (no nesting in this chart)
    def cond(m):
        return m.group(2) if lookup(m.group(1), values, release) else ""
    text = re.sub(r"\{\{-? if \.([\w.]+) \}\}(.*?)\{\{-? end \}\}", cond, text, flags=re.S)
    # {{ required "message" .X | quote }}: Helm fails the render when X is empty.
    def required(m):
        value = lookup(m.group(2), values, release)
        if value in ("", None):
            raise RenderError(m.group(1))
        return json.dumps(str(value))
    text = re.sub(r'\{\{ required "([^"]*)" \.([\w.]+) \| quote \}\}', required, text)
    text = re.sub(r"\{\{ \.([\w.]+) \}\}", lambda m: str(lookup(m.group(1), values, release)), text)
    assert "{{" not in text, f"unrendered template syntax: {text[text.index('{{'):][:80]}"
    return text

def objects(values, release):
    out = {}
    for path in sorted(glob.glob(f"{chart}/templates/*.yaml")):
        for doc in yaml.safe_load_all(render(open(path).read(), values, release)):
            if doc:
                assert doc["metadata"]["namespace"] == release["Namespace"], doc
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out

release = {"Name": "sl", "Namespace": "ml"}
# Without a token value the chart refuses to render: a Secret holding an empty
# token would leave the coordinator open.
try:
    objects(defaults, release)
    raise AssertionError("rendered without token.value")
except RenderError as e:
    assert "token.value is required" in str(e), e
defaults["token"]["value"] = "0123abcd"
objs = objects(defaults, release)
deploy = objs[("Deployment", "sl-coordinator")]
pod = deploy["spec"]["template"]["spec"]
c = pod["containers"][0]
assert c["image"] == "registry.example.com/scalelaw:0.1.0", c["image"]
assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 50051, "metrics": 9464}
assert "--listen=0.0.0.0:50051" in c["args"] and "--db=/var/lib/scalelaw/state.db" in c["args"]
assert "--advertise=sl-coordinator.ml.svc:50051" in c["args"], c["args"]
assert c["resources"]["limits"]["memory"] == "2Gi" and c["resources"]["requests"]["cpu"] == "500m"
assert deploy["spec"]["replicas"] == 1 and deploy["spec"]["strategy"]["type"] == "Recreate"
assert pod["serviceAccountName"] == "scalelaw"
assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "sl-store"
annotations = deploy["spec"]["template"]["metadata"]["annotations"]
assert annotations["prometheus.io/port"] == "9464", annotations
service = objs[("Service", "sl-coordinator")]
assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"grpc": 50051, "metrics": 9464}
assert service["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
pvc = objs[("PersistentVolumeClaim", "sl-store")]
assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
assert "storageClassName" not in pvc["spec"]          # empty: the cluster's default
role = objs[("Role", "sl-launcher")]
jobs = [r for r in role["rules"] if "jobs" in r["resources"]][0]
assert jobs["apiGroups"] == ["batch"] and {"create", "delete", "watch"} <= set(jobs["verbs"])
binding = objs[("RoleBinding", "sl-launcher")]
assert binding["subjects"][0]["name"] == "scalelaw" and binding["roleRef"]["name"] == "sl-launcher"
assert ("ServiceAccount", "scalelaw") in objs
# The token: a Secret the coordinator reads, named as worker Jobs expect it.
secret = objs[("Secret", "scalelaw-token")]
assert secret["stringData"] == {"token": "0123abcd"}, secret
token_env = {e["name"]: e for e in c["env"]}["SCALELAW_TOKEN"]
assert token_env["valueFrom"]["secretKeyRef"] == {"name": "scalelaw-token", "key": "token"}
assert "optional" not in token_env["valueFrom"]["secretKeyRef"]  # no token, no pod
# /metrics wants the token; the liveness probe uses the open /healthz; no TLS
# and no plaintext-token override unless asked for.
assert "--metrics-require-token" in c["args"], c["args"]
assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}, c["livenessProbe"]
assert not any(a.startswith(("--tls-", "--insecure-token")) for a in c["args"]), c["args"]
assert [v["name"] for v in pod["volumes"]] == ["store"], pod["volumes"]
# The NetworkPolicy lets the release's and the workers' pods reach gRPC, and
# Prometheus' namespace /metrics.
policy = objs[("NetworkPolicy", "sl-coordinator")]["spec"]
assert policy["podSelector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"], policy
grpc_rule, metrics_rule = policy["ingress"]
assert grpc_rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "scalelaw"}}}]
assert grpc_rule["ports"] == [{"port": "grpc"}] and metrics_rule["ports"] == [{"port": "metrics"}]
assert metrics_rule["from"][0]["namespaceSelector"]["matchLabels"] == {
    "kubernetes.io/metadata.name": "monitoring"}, metrics_rule

# TLS from a Secret, mounted read-only with a private key; policy and token
# requirement can be turned off.
secured = copy.deepcopy(defaults)
secured["tls"]["secretName"] = "sl-tls"
secured["networkPolicy"]["enabled"] = False
secured["coordinator"]["metricsRequireToken"] = False
objs2 = objects(secured, release)
pod2 = objs2[("Deployment", "sl-coordinator")]["spec"]["template"]["spec"]
c2 = pod2["containers"][0]
assert "--tls-cert=/etc/scalelaw/tls/tls.crt" in c2["args"] and "--tls-key=/etc/scalelaw/tls/tls.key" in c2["args"]
assert "--metrics-require-token" not in c2["args"], c2["args"]
tls_volume = {v["name"]: v for v in pod2["volumes"]}["tls"]
assert tls_volume["secret"] == {"secretName": "sl-tls", "defaultMode": 0o400}, tls_volume
assert {"name": "tls", "mountPath": "/etc/scalelaw/tls", "readOnly": True} in c2["volumeMounts"]
assert ("NetworkPolicy", "sl-coordinator") not in objs2

# Values given at install reach the objects.
custom = copy.deepcopy(defaults)
custom["image"]["tag"] = "2.0"
custom["coordinator"]["grpcPort"] = 6000
custom["persistence"]["storageClass"] = "fast-ssd"
custom["token"] = {"secretName": "site-token", "create": False, "value": ""}
objs = objects(custom, {"Name": "x", "Namespace": "default"})
assert not any(kind == "Secret" for kind, _ in objs), "create: false must not render a Secret"
c = objs[("Deployment", "x-coordinator")]["spec"]["template"]["spec"]["containers"][0]
assert c["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "site-token", c["env"]
c = objs[("Deployment", "x-coordinator")]["spec"]["template"]["spec"]["containers"][0]
assert c["image"].endswith(":2.0") and c["ports"][0]["containerPort"] == 6000
assert objs[("PersistentVolumeClaim", "x-store")]["spec"]["storageClassName"] == "fast-ssd"
print(f"helm chart: {len(objs)} objects rendered and checked")
PY
