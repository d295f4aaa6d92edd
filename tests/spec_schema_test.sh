#!/usr/bin/env bash
# sweeps/schema/sweep.schema.json against the specs we ship and the bad ones we
# test: every shipped spec is valid, every bad fixture invalid. (That the
# schema and the parser know the same keys is sweeps/schema_test.cc.)
set -euo pipefail
source_dir=$1
/usr/bin/python3 - "$source_dir" <<'PY'
import glob, json, sys
import re
import jsonschema, yaml
root = sys.argv[1]

class Yaml12Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where 1.0e6 is a string; yaml-cpp and YAML 1.2
    read it as a number, as the parser does."""
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)$"),
    list("-+0123456789"))
def load(path):
    return yaml.load(open(path), Loader=Yaml12Loader)
schema = json.load(open(f"{root}/sweeps/schema/sweep.schema.json"))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
good = [f"{root}/sweeps/quickstart.yaml", f"{root}/tests/fixtures/tiny_sweep.yaml",
        f"{root}/tests/fixtures/k8s_sweep.yaml",
        f"{root}/tests/fixtures/kill_sweep.yaml"] + sorted(glob.glob(f"{root}/sweeps/examples/*.yaml"))
for path in good:
    errors = list(validator.iter_errors(load(path)))
    assert not errors, (path, [e.message for e in errors])
bad = {"bad_type.yaml": "optimizer", "bad_negative.yaml": "models",
       "bad_unknown_key.yaml": None}
for name, where in bad.items():
    errors = list(validator.iter_errors(load(f"{root}/tests/fixtures/{name}")))
    assert errors, f"{name} passed the schema"
    if where:
        assert any(where in list(e.absolute_path)[:1] for e in errors), \
            (name, [(list(e.absolute_path), e.message) for e in errors])
print(f"spec_schema: {len(good)} shipped specs valid, {len(bad)} bad fixtures rejected")
PY
