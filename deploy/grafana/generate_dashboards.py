#!/usr/bin/python3
"""Writes deploy/grafana/dashboards/*.json, the scalelaw Grafana dashboards.

The dashboards are kept as code here so that panels stay consistent (one
data source uid, one `sweep` variable, unique ids); the JSON files are what
Grafana provisions and what the monitoring tests check.

  /usr/bin/python3 deploy/grafana/generate_dashboards.py          # rewrite the JSON
  /usr/bin/python3 deploy/grafana/generate_dashboards.py --check  # exit 1 if stale
"""
import argparse
import json
import pathlib
import sys

DATASOURCE = {"type": "prometheus", "uid": "scalelaw-prometheus"}  # provisioning/datasources
SCHEMA_VERSION = 38  # Grafana 10.x
HERE = pathlib.Path(__file__).resolve().parent


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    return {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "refId": ref,
        "range": not instant,
        "instant": instant,
        "format": fmt,
    }


class Layout:
    """Hands out panel ids and grid positions, 24 columns wide."""

    def __init__(self):
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        panel_id = self.next_id
        self.next_id += 1
        return panel_id, pos

    def row(self, title):
        if self.x:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        panel_id = self.next_id
        self.next_id += 1
        panel = {"type": "row", "id": panel_id, "title": title, "collapsed": False,
                 "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []}
        self.y += 1
        return panel


def panel(layout, kind, title, targets, w=12, h=8, unit="short", description="", options=None,
          field_config=None, transformations=None, overrides=None):
    panel_id, pos = layout.place(w, h)
    defaults = {"unit": unit}
    if field_config:
        defaults.update(field_config)
    out = {
        "type": kind,
        "id": panel_id,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": pos,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        out["transformations"] = transformations
    return out


def timeseries(layout, title, targets, unit="short", log=False, **kw):
    field = {"custom": {"drawStyle": "line", "lineWidth": 1, "showPoints": "auto"}}
    if log:
        field["custom"]["scaleDistribution"] = {"type": "log", "log": 10}
    return panel(layout, "timeseries", title, targets, unit=unit, field_config=field,
                 options={"legend": {"displayMode": "list", "placement": "bottom",
                                     "showLegend": True},
                          "tooltip": {"mode": "multi", "sort": "desc"}}, **kw)


def stat(layout, title, targets, unit="short", w=4, h=4, **kw):
    return panel(layout, "stat", title, targets, unit=unit, w=w, h=h,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                            "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": "auto"}, **kw)


def bar_gauge(layout, title, targets, unit="short", **kw):
    return panel(layout, "bargauge", title, targets, unit=unit,
                 options={"orientation": "horizontal", "displayMode": "gradient",
                          "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                            "values": False}}, **kw)


def table(layout, title, targets, unit="short", exclude=(), rename=None, **kw):
    """Instant queries merged into one row per label set; `rename` names the
    value columns ({"Value #A": "predicted"}), `exclude` hides more labels."""
    hidden = {"Time": True, "__name__": True, "job": True, "instance": True, "deployment": True}
    hidden.update({name: True for name in exclude})
    organize = {"excludeByName": hidden}
    if rename:
        organize["renameByName"] = rename
    return panel(layout, "table", title, targets, unit=unit,
                 options={"showHeader": True, "cellHeight": "sm"},
                 transformations=[{"id": "merge", "options": {}},
                                  {"id": "organize", "options": organize}],
                 **kw)


def xy(layout, title, x_expr, y_expr, x_unit, y_unit, description, **kw):
    """Y against X for the selected trials: both series joined on time."""
    return panel(layout, "xychart", title,
                 [target(x_expr, "x {{trial}}", "A"), target(y_expr, "y {{trial}}", "B")],
                 description=description,
                 field_config={"custom": {"show": "points", "pointSize": {"fixed": 5}}},
                 options={"seriesMapping": "auto", "dims": {"frame": 0},
                          "legend": {"displayMode": "list", "placement": "bottom",
                                     "showLegend": True},
                          "tooltip": {"mode": "single"}},
                 transformations=[{"id": "joinByField", "options": {"byField": "Time",
                                                                     "mode": "outer"}}],
                 **kw)


def query_variable(name, label, query, multi=False, include_all=False):
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,  # on time range change
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "current": {},
        "options": [],
        "hide": 0,
    }


def dashboard(uid, title, description, panels, variables, tags):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["scalelaw"] + tags,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["scalelaw"], "asDropdown": True,
                   "title": "scalelaw", "includeVars": True, "keepTime": True}],
        "templating": {"list": variables},
        "panels": panels,
    }


SWEEP = 'sweep="$sweep"'


def sweep_overview():
    L = Layout()
    p = [L.row("Sweep")]
    p.append(stat(L, "Trials", [target(f"sum(scalelaw_sweep_trials{{{SWEEP}}})", "trials")]))
    p.append(stat(L, "Progress (tokens)",
                  [target(f"sum(scalelaw_sweep_tokens_done{{{SWEEP}}}) / "
                          f"sum(scalelaw_sweep_tokens_planned{{{SWEEP}}})", "done")],
                  unit="percentunit"))
    p.append(stat(L, "Progress (compute)",
                  [target(f"sum(scalelaw_sweep_flops_done{{{SWEEP}}}) / "
                          f"sum(scalelaw_sweep_flops_planned{{{SWEEP}}})", "done")],
                  unit="percentunit"))
    p.append(stat(L, "ETA", [target(
        f"(sum(scalelaw_sweep_flops_planned{{{SWEEP}}}) - sum(scalelaw_sweep_flops_done{{{SWEEP}}}))"
        f" / sum(rate(scalelaw_sweep_flops_done{{{SWEEP}}}[15m]))", "eta")], unit="s",
        description="FLOPs left over the compute rate of the last 15 minutes (compute, not "
                    "tokens: a large model's token costs more)."))
    p.append(stat(L, "Succeeded", [target(
        f'scalelaw_sweep_trials{{{SWEEP}, state="succeeded"}}', "succeeded")]))
    p.append(stat(L, "Running or leased", [target(
        f'sum(scalelaw_sweep_trials{{{SWEEP}, state=~"running|leased"}})', "live")]))
    p.append(stat(L, "Failed or diverged", [target(
        f'sum(scalelaw_sweep_trials{{{SWEEP}, state=~"failed|diverged"}})', "bad")]))
    p.append(stat(L, "Workers connected", [target("scalelaw_workers_connected", "workers")]))
    p.append(bar_gauge(L, "Trials by state", [target(
        f"scalelaw_sweep_trials{{{SWEEP}}}", "{{state}}", instant=True)], w=8))
    p.append(timeseries(L, "Trials by state over time", [target(
        f"sum by (state) (scalelaw_sweep_trials{{{SWEEP}}})", "{{state}}")], w=16))

    p.append(L.row("Throughput"))
    p.append(timeseries(L, "Sweep throughput (tokens/s)", [target(
        f"sum(rate(scalelaw_sweep_tokens_done{{{SWEEP}}}[$__rate_interval]))", "tokens/s")],
        unit="short", w=8,
        description="Rate of tokens done over the sweep's trials (latest attempts)."))
    p.append(timeseries(L, "Tokens/s by trial", [target(
        f"scalelaw_trial_tokens_per_second{{{SWEEP}}}", "{{trial}} ({{size}})")], w=8))
    p.append(timeseries(L, "Achieved FLOP/s by trial", [target(
        f"scalelaw_trial_flops_per_second{{{SWEEP}}}", "{{trial}} ({{size}})")], w=8,
        description="tokens/s x planned FLOPs per token (6N + attention)."))

    p.append(L.row("Failures"))
    p.append(stat(L, "Lease expirations", [target(
        f"scalelaw_lease_expirations_total{{{SWEEP}}}", "expired")], w=8))
    p.append(stat(L, "Retries", [target(
        f"scalelaw_trial_retries_total{{{SWEEP}}}", "retries")], w=8))
    p.append(stat(L, "Divergences", [target(
        f"scalelaw_trial_divergences_total{{{SWEEP}}}", "diverged")], w=8))
    p.append(timeseries(L, "Failure events per minute", [
        target(f"60 * rate(scalelaw_lease_expirations_total{{{SWEEP}}}[$__rate_interval])",
               "lease expirations", "A"),
        target(f"60 * rate(scalelaw_trial_retries_total{{{SWEEP}}}[$__rate_interval])",
               "retries", "B"),
        target(f"60 * rate(scalelaw_trial_divergences_total{{{SWEEP}}}[$__rate_interval])",
               "divergences", "C")], w=24))

    p.append(L.row("Coordinator"))
    p.append(timeseries(L, "Worker heartbeat age", [target(
        "scalelaw_worker_heartbeat_age_seconds", "{{worker}}")], unit="s", w=8))
    p.append(timeseries(L, "gRPC requests/s by method and code", [target(
        "sum by (method, code) (rate(scalelaw_grpc_server_handled_total[$__rate_interval]))",
        "{{method}} {{code}}")], unit="reqps", w=8))
    p.append(timeseries(L, "gRPC errors/s", [target(
        'sum by (method, code) (rate(scalelaw_grpc_server_handled_total{code!="OK"}'
        '[$__rate_interval]))', "{{method}} {{code}}")], unit="reqps", w=8))
    p.append(timeseries(L, "gRPC latency p99 (unary)", [target(
        "histogram_quantile(0.99, sum by (le, method) (rate("
        'scalelaw_grpc_server_handling_seconds_bucket{method!="StreamMetrics"}'
        "[$__rate_interval])))", "{{method}}")], unit="s", w=8))
    p.append(timeseries(L, "Store write latency", [
        target("histogram_quantile(0.5, sum by (le) (rate("
               "scalelaw_store_write_duration_seconds_bucket[$__rate_interval])))", "p50", "A"),
        target("histogram_quantile(0.99, sum by (le) (rate("
               "scalelaw_store_write_duration_seconds_bucket[$__rate_interval])))", "p99", "B")],
        unit="s", w=8))
    p.append(table(L, "Build", [target("scalelaw_build_info", "{{version}}", instant=True,
                                       fmt="table")], w=8))
    return dashboard(
        "scalelaw-sweep-overview", "scalelaw / Sweep overview",
        "Trial states, progress, throughput and failures of one sweep, and the coordinator's "
        "health.", p,
        [query_variable("sweep", "Sweep", "label_values(scalelaw_sweep_trials, sweep)")],
        ["sweep"])


TRIALS = 'sweep="$sweep", trial=~"$trial"'


def trial_view():
    L = Layout()
    p = [L.row("Loss")]
    p.append(timeseries(L, "Training loss (smoothed)", [target(
        f"scalelaw_trial_train_loss{{{TRIALS}}}", "{{trial}} ({{size}})")], unit="none"))
    p.append(timeseries(L, "Validation loss", [target(
        f"scalelaw_trial_val_loss{{{TRIALS}}}", "{{trial}} ({{size}})")], unit="none"))
    p.append(xy(L, "Validation loss vs tokens", f"scalelaw_trial_tokens{{{TRIALS}}}",
                f"scalelaw_trial_val_loss{{{TRIALS}}}", "short", "none",
                "Each point is one scrape: (tokens done, latest validation loss). "
                "Select one trial for a clean curve."))
    p.append(xy(L, "Validation loss vs training FLOPs", f"scalelaw_trial_flops{{{TRIALS}}}",
                f"scalelaw_trial_val_loss{{{TRIALS}}}", "short", "none",
                "Each point is one scrape: (FLOPs spent, latest validation loss)."))

    p.append(L.row("Progress"))
    p.append(timeseries(L, "Tokens done", [target(
        f"scalelaw_trial_tokens{{{TRIALS}}}", "{{trial}}")], w=8))
    p.append(timeseries(L, "Training FLOPs", [target(
        f"scalelaw_trial_flops{{{TRIALS}}}", "{{trial}}")], w=8, log=True))
    p.append(timeseries(L, "Attempt", [target(
        f"scalelaw_trial_attempt{{{TRIALS}}}", "{{trial}}")], w=8))

    p.append(L.row("Optimisation"))
    p.append(timeseries(L, "Gradient noise scale B_simple (sequences)", [target(
        f"scalelaw_trial_gradient_noise_scale{{{TRIALS}}}", "{{trial}}")], w=8, log=True))
    p.append(timeseries(L, "Learning rate", [target(
        f"scalelaw_trial_learning_rate{{{TRIALS}}}", "{{trial}}")], w=8))
    p.append(timeseries(L, "Throughput (tokens/s)", [target(
        f"scalelaw_trial_tokens_per_second{{{TRIALS}}}", "{{trial}}")], w=8))
    return dashboard(
        "scalelaw-trial", "scalelaw / Trial",
        "Loss curves against time, tokens and FLOPs, noise scale and learning rate of the "
        "selected trials.", p,
        [query_variable("sweep", "Sweep", "label_values(scalelaw_sweep_trials, sweep)"),
         query_variable("trial", "Trial",
                        'label_values(scalelaw_trial_attempt{sweep="$sweep"}, trial)',
                        multi=True, include_all=True)],
        ["trial"])


FIT = 'sweep="$sweep", law="$law"'


def fit_view():
    L = Layout()
    p = [L.row("Fitted law")]
    p.append(stat(L, "alpha (params exponent)", [target(
        f'scalelaw_fit_parameter{{{FIT}, parameter="alpha"}}', "alpha")], w=4))
    p.append(stat(L, "beta (tokens exponent)", [target(
        f'scalelaw_fit_parameter{{sweep="$sweep", law="chinchilla", parameter="beta"}}',
        "beta")], w=4, description="Chinchilla law only."))
    p.append(stat(L, "E (irreducible loss)", [target(
        f'scalelaw_fit_parameter{{{FIT}, parameter="E"}}', "E")], w=4))
    p.append(stat(L, "Points fitted", [target(f"scalelaw_fit_points{{{FIT}}}", "points")], w=4))
    p.append(stat(L, "Fit age", [target(
        f"time() - scalelaw_fit_timestamp_seconds{{{FIT}}}", "age")], unit="s", w=4))
    p.append(stat(L, "N_opt ~ C^a, D_opt ~ C^b", [target(
        f'scalelaw_fit_optimal_exponent{{sweep="$sweep", law="chinchilla"}}', "{{quantity}}")],
        w=4, description="a = beta/(alpha+beta) (params), b = alpha/(alpha+beta) (tokens)."))
    p.append(table(L, "All fitted parameters", [target(
        f"scalelaw_fit_parameter{{{FIT}}}", "{{parameter}}", instant=True, fmt="table")], w=24,
        h=6))

    p.append(L.row("Predictions at the requested budgets"))
    p.append(bar_gauge(L, "Predicted optimal loss by budget (FLOPs)", [target(
        f"scalelaw_fit_optimal_loss{{{FIT}}}", "{{budget}}", instant=True)], unit="none", w=8))
    p.append(bar_gauge(L, "N_opt (parameters) by budget", [target(
        f"scalelaw_fit_optimal_params{{{FIT}}}", "{{budget}}", instant=True)], w=8))
    p.append(bar_gauge(L, "D_opt (tokens) by budget", [target(
        f"scalelaw_fit_optimal_tokens{{{FIT}}}", "{{budget}}", instant=True)], w=8))
    p.append(bar_gauge(L, "Tokens per parameter at the optimum", [target(
        f"scalelaw_fit_optimal_tokens{{{FIT}}} / scalelaw_fit_optimal_params{{{FIT}}}",
        "{{budget}}", instant=True)], w=12))
    p.append(bar_gauge(L, "Best validation loss by model size", [target(
        f"min by (size) (scalelaw_trial_val_loss{{{SWEEP}}})", "{{size}} params",
        instant=True)], unit="none", w=12,
        description="The measured points behind the fit (lowest validation loss per size)."))
    p.append(timeseries(L, "Fitted exponents over time", [target(
        f'scalelaw_fit_parameter{{{FIT}, parameter=~"alpha|beta"}}', "{{parameter}}")],
        unit="none", w=24))

    p.append(L.row("Pre-registered forecasts"))
    columns = [("scalelaw_forecast_predicted_loss", "predicted"),
               ("scalelaw_forecast_interval_lower_loss", "interval lower"),
               ("scalelaw_forecast_interval_upper_loss", "interval upper"),
               ("scalelaw_forecast_actual_loss", "actual"),
               ("scalelaw_forecast_relative_error", "relative error"),
               ("scalelaw_forecast_inside_interval", "inside interval")]
    refs = "ABCDEF"
    p.append(table(
        L, "Forecast vs outcome",
        [target(f"{series}{{{SWEEP}}}", column, ref, instant=True, fmt="table")
         for ref, (series, column) in zip(refs, columns)],
        unit="none", w=24, h=6, exclude=("sweep",),
        rename={f"Value #{ref}": column for ref, (_, column) in zip(refs, columns)},
        overrides=[
            {"matcher": {"id": "byName", "options": "relative error"},
             "properties": [{"id": "unit", "value": "percentunit"}]},
            {"matcher": {"id": "byName", "options": "inside interval"},
             "properties": [{"id": "mappings", "value": [
                 {"type": "value", "options": {"0": {"text": "no", "color": "red"},
                                               "1": {"text": "yes", "color": "green"}}}]},
                 {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}],
        description="Per forecast target of the sweep: the loss the coordinator predicted from "
                    "the ladder before the target was first leased, its prediction interval, "
                    "and, once the target succeeded, the final validation loss it reached and "
                    "(predicted - actual) / actual. Empty for a sweep without a forecast: "
                    "block."))
    return dashboard(
        "scalelaw-fit", "scalelaw / Fit",
        "The latest fit of a sweep (GetFit / scalelaw fit): exponents and compute-optimal "
        "predictions; a forecast sweep's pre-registered forecasts beside their outcomes.", p,
        # A forecast sweep is listed before anyone asked for its fit.
        [query_variable("sweep", "Sweep", 'label_values({__name__=~"scalelaw_fit_points|'
                                          'scalelaw_forecast_predicted_loss"}, sweep)'),
         query_variable("law", "Law", 'label_values(scalelaw_fit_points{sweep="$sweep"}, law)')],
        ["fit"])


DASHBOARDS = {
    "sweep_overview.json": sweep_overview,
    "trial.json": trial_view,
    "fit.json": fit_view,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a JSON file is stale")
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "dashboards")
    args = parser.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2) + "\n"
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
    if stale:
        print("stale (run deploy/grafana/generate_dashboards.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
