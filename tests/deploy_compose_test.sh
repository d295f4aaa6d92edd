#!/usr/bin/env bash
# deploy/compose.yaml exposes nothing to other machines and runs nothing
# without credentials: every published port is bound to 127.0.0.1, /metrics
# is not published, the coordinator reads its token from a compose secret,
# and Grafana has no anonymous access and no default admin password. Docker
# is not available here, so this checks the file itself.
set -euo pipefail
/usr/bin/python3 - "$1/deploy/compose.yaml" <<'PY'
import sys
import yaml
compose = yaml.safe_load(open(sys.argv[1]))
services = compose["services"]
for name, service in services.items():
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
coordinator = services["coordinator"]
args = coordinator["command"]
assert "--token-file=/run/secrets/scalelaw-token" in args, args
assert coordinator["secrets"] == ["scalelaw-token"], coordinator
assert compose["secrets"]["scalelaw-token"] == {"file": "./secrets/scalelaw-token"}, compose["secrets"]
assert not any("9464" in str(p) for p in coordinator.get("ports", [])), "metrics published"
assert not any(k.startswith("SCALELAW_TOKEN") for k in coordinator.get("environment", {}))
grafana = services["grafana"]["environment"]
assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "false", grafana
assert "GF_AUTH_ANONYMOUS_ORG_ROLE" not in grafana, grafana
assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?"), grafana
print("compose: ports on 127.0.0.1 only, token from a secret, Grafana closed")
PY
