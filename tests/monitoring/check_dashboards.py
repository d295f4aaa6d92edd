#!/usr/bin/python3
"""Checks scalelaw's Grafana dashboards (stdlib only).

  check_dashboards.py --dashboards DIR --provisioning DIR structure
      Valid dashboard JSON: schemaVersion, unique uids and panel ids, every
      panel, target and variable naming the provisioned Prometheus data source
      by uid, a `sweep` template variable, gridPos on every panel, and the
      JSON equal to deploy/grafana/generate_dashboards.py's output.

  check_dashboards.py --dashboards DIR --provisioning DIR query \
      --promtool promtool --url http://127.0.0.1:PORT --var sweep=ID --var trial=ID ... \
      [--row-var "ROW TITLE:sweep=ID" ...]
      Every PromQL expression of every dashboard (targets and variable
      queries), with the dashboard variables substituted, goes through
      `promtool query instant`; fails if any errors or returns no series.
      --row-var overrides a variable for the panels of the rows so titled, as
      a user selects another sweep to see them (a forecast sweep's row).
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

# Grafana's built-in interval variables, as a 1 s scrape makes them sensible.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m",
            "__range_s": "300", "__interval_ms": "15000"}


def provisioned_uids(provisioning):
    uids = set()
    for path in sorted((provisioning / "datasources").glob("*.y*ml")):
        for match in re.finditer(r"^\s*uid:\s*['\"]?([A-Za-z0-9_.-]+)", path.read_text(), re.M):
            uids.add(match.group(1))
    return uids


def load(dashboards):
    paths = sorted(dashboards.glob("*.json"))
    if not paths:
        raise SystemExit(f"no dashboards in {dashboards}")
    return [(path, json.loads(path.read_text())) for path in paths]


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def panels_by_row(panels):
    """(row title or None, panel) for every panel: an expanded row holds the
    panels after it up to the next row, a collapsed one its own `panels`."""
    row = None
    for panel in panels:
        if panel.get("type") == "row":
            row = panel.get("title")
            for inner in all_panels(panel.get("panels", [])):
                yield row, inner
            continue
        for inner in all_panels([panel]):
            yield row, inner


def expressions(board):
    """(where, expr, row title) for every target and query variable of a dashboard."""
    for row, panel in panels_by_row(board.get("panels", [])):
        for target in panel.get("targets", []):
            yield f"panel {panel.get('id')} '{panel.get('title')}' {target.get('refId')}", \
                target.get("expr", ""), row
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else query or ""
        # label_values(selector, label) -> the selector must return series with that label.
        match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query)
        yield f"variable {variable.get('name')}", match.group(1) if match else query, None


def check_structure(args):
    errors = []
    uids = provisioned_uids(args.provisioning)
    if len(uids) != 1:
        errors.append(f"expected one data source uid in {args.provisioning}/datasources, "
                      f"found {sorted(uids)}")
    providers = list((args.provisioning / "dashboards").glob("*.y*ml"))
    if not providers or not any("path:" in p.read_text() for p in providers):
        errors.append(f"no dashboard provider with a path in {args.provisioning}/dashboards")
    seen_uids = {}
    for path, board in load(args.dashboards):
        name = path.name
        if not isinstance(board.get("schemaVersion"), int) or board["schemaVersion"] < 30:
            errors.append(f"{name}: schemaVersion missing or older than 30")
        for key in ("uid", "title", "panels", "templating"):
            if key not in board:
                errors.append(f"{name}: no '{key}'")
        if board.get("uid") in seen_uids:
            errors.append(f"{name}: uid {board.get('uid')} also in {seen_uids[board['uid']]}")
        seen_uids[board.get("uid")] = name
        if "id" in board and board["id"] is not None:
            errors.append(f"{name}: a provisioned dashboard must not carry a numeric id")
        variables = board.get("templating", {}).get("list", [])
        if "sweep" not in [v.get("name") for v in variables]:
            errors.append(f"{name}: no 'sweep' template variable")
        for variable in variables:
            if variable.get("type") == "query" and \
                    variable.get("datasource", {}).get("uid") not in uids:
                errors.append(f"{name}: variable {variable.get('name')}: datasource uid "
                              f"{variable.get('datasource')} is not provisioned")
        ids = []
        for panel in all_panels(board.get("panels", [])):
            pid = panel.get("id")
            ids.append(pid)
            if not isinstance(pid, int):
                errors.append(f"{name}: panel '{panel.get('title')}' has no integer id")
            grid = panel.get("gridPos", {})
            if not all(isinstance(grid.get(k), int) for k in "xywh") or \
                    grid.get("x", 0) + grid.get("w", 0) > 24:
                errors.append(f"{name}: panel {pid}: bad gridPos {grid}")
            if panel.get("type") == "row":
                continue
            if not panel.get("type") or not panel.get("title"):
                errors.append(f"{name}: panel {pid}: no type or title")
            if panel.get("datasource", {}).get("uid") not in uids:
                errors.append(f"{name}: panel {pid}: datasource {panel.get('datasource')} is "
                              f"not the provisioned uid {sorted(uids)}")
            targets = panel.get("targets", [])
            if not targets:
                errors.append(f"{name}: panel {pid}: no targets")
            refs = [t.get("refId") for t in targets]
            if len(set(refs)) != len(refs):
                errors.append(f"{name}: panel {pid}: duplicate refIds {refs}")
            for t in targets:
                if not t.get("expr"):
                    errors.append(f"{name}: panel {pid}: target {t.get('refId')} has no expr")
                if t.get("datasource", {}).get("uid") not in uids:
                    errors.append(f"{name}: panel {pid}: target {t.get('refId')} datasource "
                                  f"{t.get('datasource')} is not provisioned")
        duplicates = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
        if duplicates:
            errors.append(f"{name}: duplicate panel ids {duplicates}")
    generator = args.dashboards.parent / "generate_dashboards.py"
    if generator.exists():
        result = subprocess.run([sys.executable, str(generator), "--check", "--out",
                                 str(args.dashboards)], capture_output=True, text=True)
        if result.returncode != 0:
            errors.append(result.stdout.strip() or result.stderr.strip())
    for error in errors:
        print("FAIL:", error)
    print(f"structure: {len(seen_uids)} dashboards, {len(errors)} problems")
    return 1 if errors else 0


def substitute(expr, variables):
    def value(match):
        name = match.group(1) or match.group(2)
        name = name.split(":")[0]  # ${var:format}
        if name in variables:
            return variables[name]
        if name in BUILTINS:
            return BUILTINS[name]
        raise KeyError(name)
    return re.sub(r"\$\{([^}]+)\}|\$(\w+)", value, expr)


def row_variables(specs):
    """{row title: {name: value}} from "ROW TITLE:name=value" arguments."""
    rows = {}
    for spec in specs:
        row, sep, assignment = spec.rpartition(":")
        name, eq, value = assignment.partition("=")
        if not sep or not eq or not row or not name:
            raise SystemExit(f"--row-var {spec!r}: expected 'ROW TITLE:name=value'")
        rows.setdefault(row, {})[name] = value
    return rows


def check_queries(args):
    variables = dict(v.split("=", 1) for v in args.var)
    by_row = row_variables(args.row_var)
    used_rows = set()
    failures = 0
    total = 0
    for path, board in load(args.dashboards):
        for where, expr, row in expressions(board):
            total += 1
            label = f"{path.name}: {where}"
            scoped = variables
            if row in by_row:
                used_rows.add(row)
                scoped = {**variables, **by_row[row]}
                label += f" (row '{row}': " + \
                    ", ".join(f"{k}={v}" for k, v in by_row[row].items()) + ")"
            try:
                query = substitute(expr, scoped)
            except KeyError as missing:
                print(f"FAIL {label}: no value for variable {missing}")
                failures += 1
                continue
            result = subprocess.run([args.promtool, "query", "instant", "-o", "json", args.url,
                                     query], capture_output=True, text=True, timeout=60)
            if result.returncode != 0:
                print(f"FAIL {label}: promtool error for {query!r}: "
                      f"{result.stderr.strip() or result.stdout.strip()}")
                failures += 1
                continue
            try:
                series = json.loads(result.stdout or "[]")
            except json.JSONDecodeError:
                print(f"FAIL {label}: unreadable promtool output {result.stdout!r}")
                failures += 1
                continue
            if not isinstance(series, list):
                series = [series]  # a scalar result
            if not series:
                print(f"FAIL {label}: no series for {query!r}")
                failures += 1
                continue
            print(f"ok   {label}: {len(series)} series  {query}")
    for row in sorted(set(by_row) - used_rows):
        print(f"FAIL --row-var: no dashboard has a row titled {row!r}")
        failures += 1
    print(f"queries: {total} expressions, {failures} failed")
    return 1 if failures or total == 0 else 0


def main():
    parser = argparse.ArgumentParser(description="Check scalelaw's Grafana dashboards.")
    parser.add_argument("--dashboards", type=pathlib.Path, required=True)
    parser.add_argument("--provisioning", type=pathlib.Path, required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("structure")
    query = sub.add_parser("query")
    query.add_argument("--promtool", default="promtool")
    query.add_argument("--url", required=True)
    query.add_argument("--var", action="append", default=[], help="name=value")
    query.add_argument("--row-var", action="append", default=[],
                       help="'ROW TITLE:name=value', for the panels of that row only")
    args = parser.parse_args()
    return check_structure(args) if args.command == "structure" else check_queries(args)


if __name__ == "__main__":
    sys.exit(main())
