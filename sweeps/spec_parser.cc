#include "sweeps/spec_parser.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "sweeps/spec_defaults.h"
#include "sweeps/spec_validator.h"

namespace scalelaw::sweeps {
namespace {

// Walks a YAML document, turning every problem into an error that names the
// source, the line and the field path.
class YamlReader {
 public:
  explicit YamlReader(const std::string& source) : source_(source) {}

  absl::Status Error(const YAML::Node& node, const std::string& path,
                     const std::string& what) const {
    const YAML::Mark mark = node.Mark();
    const std::string where =
        mark.line >= 0 ? absl::StrCat(source_, ":", mark.line + 1) : std::string(source_);
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", path, ": ", what));
  }

  absl::StatusOr<double> Number(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) return Error(node, path, "expected a number, got a " + Kind(node));
    const std::string text = node.Scalar();
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) {
      return Error(node, path, absl::StrCat("expected a number, got '", text, "'"));
    }
    return value;
  }

  // A whole number >= 0 that fits 32 bits (64 with `wide`).
  absl::StatusOr<uint64_t> Whole(const YAML::Node& node, const std::string& path,
                                 bool wide = false) const {
    SCALELAW_ASSIGN_OR_RETURN(const double value, Number(node, path));
    const double limit = wide ? 9.0e15 : 4294967295.0;
    if (value < 0 || value != std::floor(value) || value > limit) {
      return Error(node, path,
                   absl::StrCat("expected a whole number >= 0, got '", node.Scalar(), "'"));
    }
    return static_cast<uint64_t>(value);
  }

  absl::StatusOr<std::string> String(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) return Error(node, path, "expected a string, got a " + Kind(node));
    return node.Scalar();
  }

  absl::Status ExpectMap(const YAML::Node& node, const std::string& path) const {
    if (!node.IsMap()) return Error(node, path, "expected a mapping, got a " + Kind(node));
    return absl::OkStatus();
  }

  absl::Status ExpectSequence(const YAML::Node& node, const std::string& path) const {
    if (!node.IsSequence()) return Error(node, path, "expected a list, got a " + Kind(node));
    return absl::OkStatus();
  }

  static std::string Kind(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return "mapping";
      case YAML::NodeType::Sequence:
        return "list";
      case YAML::NodeType::Scalar:
        return "scalar";
      case YAML::NodeType::Null:
        return "null";
      default:
        return "undefined value";
    }
  }

 private:
  std::string source_;
};

// A mapping's fields: each key has a handler; unknown keys are errors that
// list the known ones.
using FieldHandler = std::function<absl::Status(const YAML::Node&, const std::string&)>;
using FieldTable = std::map<std::string, FieldHandler>;

absl::Status ReadFields(const YamlReader& reader, const YAML::Node& map, const std::string& path,
                        const FieldTable& fields) {
  SCALELAW_RETURN_IF_ERROR(reader.ExpectMap(map, path.empty() ? "(top level)" : path));
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    const std::string field = path.empty() ? key : absl::StrCat(path, ".", key);
    auto it = fields.find(key);
    if (it == fields.end()) {
      std::vector<std::string> known;
      for (const auto& [name, handler] : fields) known.push_back(name);
      return reader.Error(
          entry.first, field,
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(known, ", "), ")"));
    }
    SCALELAW_RETURN_IF_ERROR(it->second(entry.second, field));
  }
  return absl::OkStatus();
}

// Handler factories: bind a proto setter to a YAML value of the right kind.
template <typename Setter>
FieldHandler NumberField(const YamlReader& reader, Setter set) {
  return [&reader, set](const YAML::Node& node, const std::string& path) -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(const double value, reader.Number(node, path));
    set(value);
    return absl::OkStatus();
  };
}

template <typename Setter>
FieldHandler WholeField(const YamlReader& reader, Setter set) {
  return [&reader, set](const YAML::Node& node, const std::string& path) -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(const uint64_t value, reader.Whole(node, path));
    set(static_cast<uint32_t>(value));
    return absl::OkStatus();
  };
}

template <typename Setter>
FieldHandler StringField(const YamlReader& reader, Setter set) {
  return [&reader, set](const YAML::Node& node, const std::string& path) -> absl::Status {
    SCALELAW_ASSIGN_OR_RETURN(std::string value, reader.String(node, path));
    set(std::move(value));
    return absl::OkStatus();
  };
}

absl::Status ReadShape(const YamlReader& r, const YAML::Node& node, const std::string& path,
                       v1::ModelShape* shape) {
  return ReadFields(r, node, path,
                    {
                        {"n_layer", WholeField(r, [shape](uint32_t v) { shape->set_n_layer(v); })},
                        {"d_model", WholeField(r, [shape](uint32_t v) { shape->set_d_model(v); })},
                        {"n_head", WholeField(r, [shape](uint32_t v) { shape->set_n_head(v); })},
                        {"n_ctx", WholeField(r, [shape](uint32_t v) { shape->set_n_ctx(v); })},
                    });
}

// The keys of a size, `target_params` or `shape`, for `models[i]` and
// `forecast.targets[i]`; `has_target` records whether target_params was given
// (a oneof cannot tell which key came last).
void AddSizeFields(const YamlReader& r, v1::ModelSize* size, bool* has_target, FieldTable* fields) {
  (*fields)["target_params"] = NumberField(r, [size, has_target](double v) {
    size->set_target_params(v);
    *has_target = true;
  });
  (*fields)["shape"] = [&r, size](const YAML::Node& n, const std::string& p) {
    return ReadShape(r, n, p, size->mutable_shape());
  };
}

absl::Status ReadModels(const YamlReader& r, const YAML::Node& node, const std::string& path,
                        v1::SweepSpec* spec) {
  SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(node, path));
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string item = absl::StrCat(path, "[", i, "]");
    v1::ModelSize* size = spec->add_models();
    // A bare number is a target parameter count: `models: [1e5, 4e5]`.
    if (node[i].IsScalar()) {
      SCALELAW_ASSIGN_OR_RETURN(const double params, r.Number(node[i], item));
      size->set_target_params(params);
      continue;
    }
    bool has_target = false;
    FieldTable fields;
    AddSizeFields(r, size, &has_target, &fields);
    SCALELAW_RETURN_IF_ERROR(ReadFields(r, node[i], item, fields));
    if (size->size_case() == v1::ModelSize::SIZE_NOT_SET || (has_target && size->has_shape())) {
      return r.Error(node[i], item, "expected exactly one of 'target_params' or 'shape'");
    }
  }
  return absl::OkStatus();
}

template <typename Add>
absl::Status ReadNumberList(const YamlReader& r, const YAML::Node& node, const std::string& path,
                            Add add) {
  SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(node, path));
  for (size_t i = 0; i < node.size(); ++i) {
    SCALELAW_ASSIGN_OR_RETURN(const double value,
                              r.Number(node[i], absl::StrCat(path, "[", i, "]")));
    add(value);
  }
  return absl::OkStatus();
}

absl::Status ReadForecastTargets(const YamlReader& r, const YAML::Node& node,
                                 const std::string& path, v1::ForecastPlan* plan) {
  SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(node, path));
  for (size_t i = 0; i < node.size(); ++i) {
    v1::ForecastTarget* target = plan->add_targets();
    v1::ModelSize* size = target->mutable_size();
    bool has_target = false;
    FieldTable fields = {
        {"name", StringField(r, [target](std::string v) { target->set_name(std::move(v)); })},
        {"tokens", NumberField(r, [target](double v) { target->set_tokens(v); })},
        {"compute", NumberField(r, [target](double v) { target->set_compute(v); })},
    };
    AddSizeFields(r, size, &has_target, &fields);
    const std::string item = absl::StrCat(path, "[", i, "]");
    SCALELAW_RETURN_IF_ERROR(ReadFields(r, node[i], item, fields));
    if (has_target && size->has_shape()) {
      return r.Error(node[i], item, "expected at most one of 'target_params' or 'shape'");
    }
    if (size->size_case() == v1::ModelSize::SIZE_NOT_SET) target->clear_size();
  }
  return absl::OkStatus();
}

absl::Status ReadSpec(const YamlReader& r, const YAML::Node& root, v1::SweepSpec* spec) {
  v1::OptimizerConfig* opt = spec->mutable_optimizer();
  v1::DataConfig* data = spec->mutable_data();
  v1::TrainingConfig* train = spec->mutable_training();
  const FieldTable optimizer_fields = {
      {"lr", NumberField(r, [opt](double v) { opt->set_lr(v); })},
      {"min_lr_ratio", NumberField(r, [opt](double v) { opt->set_min_lr_ratio(v); })},
      {"warmup_fraction", NumberField(r, [opt](double v) { opt->set_warmup_fraction(v); })},
      {"weight_decay", NumberField(r, [opt](double v) { opt->set_weight_decay(v); })},
      {"beta1", NumberField(r, [opt](double v) { opt->set_beta1(v); })},
      {"beta2", NumberField(r, [opt](double v) { opt->set_beta2(v); })},
      {"grad_clip", NumberField(r, [opt](double v) { opt->set_grad_clip(v); })},
      {"schedule", StringField(r, [opt](std::string v) { opt->set_schedule(std::move(v)); })},
      {"lr_exponent", NumberField(r, [opt](double v) { opt->set_lr_exponent(v); })},
      {"lr_reference_params", NumberField(r, [opt](double v) { opt->set_lr_reference_params(v); })},
      {"cooldown_fraction", NumberField(r, [opt](double v) { opt->set_cooldown_fraction(v); })},
  };
  v1::IsoflopPlan* isoflop = spec->mutable_isoflop();
  const FieldTable isoflop_fields = {
      {"budgets",
       [&r, isoflop](const YAML::Node& n, const std::string& p) {
         return ReadNumberList(r, n, p, [isoflop](double v) { isoflop->add_budgets(v); });
       }},
      {"sizes_per_budget",
       WholeField(r, [isoflop](uint32_t v) { isoflop->set_sizes_per_budget(v); })},
      {"min_params", NumberField(r, [isoflop](double v) { isoflop->set_min_params(v); })},
      {"max_params", NumberField(r, [isoflop](double v) { isoflop->set_max_params(v); })},
      {"flops", StringField(r, [isoflop](std::string v) { isoflop->set_flops(std::move(v)); })},
  };
  const FieldTable data_fields = {
      {"corpus", StringField(r, [data](std::string v) { data->set_corpus(std::move(v)); })},
      {"tokenizer", StringField(r, [data](std::string v) { data->set_tokenizer(std::move(v)); })},
      {"val_fraction", NumberField(r, [data](double v) { data->set_val_fraction(v); })},
  };
  // Created on first use, so a spec without a batch rule stores none.
  auto batch_rule = [train] { return train->mutable_batch_rule(); };
  const FieldTable batch_rule_fields = {
      {"critical_batch",
       [&r, batch_rule](const YAML::Node& n, const std::string& p) -> absl::Status {
         SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(n, p));
         for (size_t i = 0; i < n.size(); ++i) {
           v1::CriticalBatchPoint* point = batch_rule()->add_critical_batch();
           const FieldTable point_fields = {
               {"params", NumberField(r, [point](double v) { point->set_params(v); })},
               {"batch", NumberField(r, [point](double v) { point->set_batch(v); })},
           };
           SCALELAW_RETURN_IF_ERROR(ReadFields(r, n[i], absl::StrCat(p, "[", i, "]"), point_fields));
         }
         return absl::OkStatus();
       }},
      {"fraction", NumberField(r, [batch_rule](double v) { batch_rule()->set_fraction(v); })},
      {"min_batch", WholeField(r, [batch_rule](uint32_t v) { batch_rule()->set_min_batch(v); })},
      {"max_batch", WholeField(r, [batch_rule](uint32_t v) { batch_rule()->set_max_batch(v); })},
  };
  const FieldTable training_fields = {
      {"batch_size", WholeField(r, [train](uint32_t v) { train->set_batch_size(v); })},
      {"micro_batches", WholeField(r, [train](uint32_t v) { train->set_micro_batches(v); })},
      {"threads", WholeField(r, [train](uint32_t v) { train->set_threads(v); })},
      {"device", StringField(r, [train](std::string v) { train->set_device(std::move(v)); })},
      {"precision", StringField(r, [train](std::string v) { train->set_precision(std::move(v)); })},
      {"eval_points", WholeField(r, [train](uint32_t v) { train->set_eval_points(v); })},
      {"eval_batches", WholeField(r, [train](uint32_t v) { train->set_eval_batches(v); })},
      {"log_every_steps", WholeField(r, [train](uint32_t v) { train->set_log_every_steps(v); })},
      {"checkpoint_dir",
       StringField(r, [train](std::string v) { train->set_checkpoint_dir(std::move(v)); })},
      {"checkpoint_every_steps",
       WholeField(r, [train](uint32_t v) { train->set_checkpoint_every_steps(v); })},
      {"batch_rule",
       [&r, &batch_rule_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, batch_rule_fields);
       }},
  };
  v1::LauncherConfig* launcher = spec->mutable_launcher();
  v1::Resources* resources = launcher->mutable_resources();
  v1::SlurmConfig* slurm = launcher->mutable_slurm();
  v1::KubernetesConfig* kubernetes = launcher->mutable_kubernetes();
  const FieldTable resources_fields = {
      {"gpus", WholeField(r, [resources](uint32_t v) { resources->set_gpus(v); })},
      {"cpus", WholeField(r, [resources](uint32_t v) { resources->set_cpus(v); })},
      // A bare number is megabytes, as in Slurm: `memory: 4000`.
      {"memory",
       StringField(r, [resources](std::string v) { resources->set_memory(std::move(v)); })},
      {"time_limit_minutes",
       WholeField(r, [resources](uint32_t v) { resources->set_time_limit_minutes(v); })},
  };
  const FieldTable slurm_fields = {
      {"partition", StringField(r, [slurm](std::string v) { slurm->set_partition(std::move(v)); })},
      {"account", StringField(r, [slurm](std::string v) { slurm->set_account(std::move(v)); })},
      {"signal", StringField(r, [slurm](std::string v) { slurm->set_signal(std::move(v)); })},
      {"signal_seconds", WholeField(r, [slurm](uint32_t v) { slurm->set_signal_seconds(v); })},
      {"extra_args",
       [&r, slurm](const YAML::Node& n, const std::string& p) -> absl::Status {
         SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(n, p));
         for (size_t i = 0; i < n.size(); ++i) {
           SCALELAW_ASSIGN_OR_RETURN(std::string arg, r.String(n[i], absl::StrCat(p, "[", i, "]")));
           slurm->add_extra_args(std::move(arg));
         }
         return absl::OkStatus();
       }},
  };
  const FieldTable kubernetes_fields = {
      {"image",
       StringField(r, [kubernetes](std::string v) { kubernetes->set_image(std::move(v)); })},
      {"namespace",
       StringField(r, [kubernetes](std::string v) { kubernetes->set_namespace_(std::move(v)); })},
      {"service_account",
       StringField(r,
                   [kubernetes](std::string v) { kubernetes->set_service_account(std::move(v)); })},
      {"token_secret",
       StringField(r, [kubernetes](std::string v) { kubernetes->set_token_secret(std::move(v)); })},
      {"tls_secret",
       StringField(r, [kubernetes](std::string v) { kubernetes->set_tls_secret(std::move(v)); })},
      {"image_pull_policy",
       StringField(r,
                   [kubernetes](std::string v) { kubernetes->set_image_pull_policy(std::move(v)); })},
  };
  const FieldTable launcher_fields = {
      {"kind", StringField(r, [launcher](std::string v) { launcher->set_kind(std::move(v)); })},
      {"workers", WholeField(r, [launcher](uint32_t v) { launcher->set_workers(v); })},
      {"coordinator_address",
       StringField(r,
                   [launcher](std::string v) { launcher->set_coordinator_address(std::move(v)); })},
      {"resources",
       [&r, &resources_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, resources_fields);
       }},
      {"slurm",
       [&r, &slurm_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, slurm_fields);
       }},
      {"kubernetes",
       [&r, &kubernetes_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, kubernetes_fields);
       }},
  };
  v1::ForecastPlan* forecast = spec->mutable_forecast();
  const FieldTable forecast_fields = {
      {"targets",
       [&r, forecast](const YAML::Node& n, const std::string& p) {
         return ReadForecastTargets(r, n, p, forecast);
       }},
      {"law", StringField(r, [forecast](std::string v) { forecast->set_law(std::move(v)); })},
      {"bootstrap", WholeField(r, [forecast](uint32_t v) { forecast->set_bootstrap(v); })},
      {"level", NumberField(r, [forecast](double v) { forecast->set_level(v); })},
      {"seed", WholeField(r, [forecast](uint32_t v) { forecast->set_seed(v); })},
      {"param_count",
       StringField(r, [forecast](std::string v) { forecast->set_param_count(std::move(v)); })},
  };
  const FieldTable top_fields = {
      {"name", StringField(r, [spec](std::string v) { spec->set_name(std::move(v)); })},
      {"context", WholeField(r, [spec](uint32_t v) { spec->set_context(v); })},
      {"max_attempts", WholeField(r, [spec](uint32_t v) { spec->set_max_attempts(v); })},
      {"models",
       [&r, spec](const YAML::Node& n, const std::string& p) { return ReadModels(r, n, p, spec); }},
      {"tokens",
       [&r, spec](const YAML::Node& n, const std::string& p) {
         return ReadNumberList(r, n, p, [spec](double v) { spec->add_tokens(v); });
       }},
      {"tokens_per_param",
       [&r, spec](const YAML::Node& n, const std::string& p) {
         return ReadNumberList(r, n, p, [spec](double v) { spec->add_tokens_per_param(v); });
       }},
      {"isoflop",
       [&r, &isoflop_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, isoflop_fields);
       }},
      {"seeds",
       [&r, spec](const YAML::Node& n, const std::string& p) -> absl::Status {
         SCALELAW_RETURN_IF_ERROR(r.ExpectSequence(n, p));
         for (size_t i = 0; i < n.size(); ++i) {
           SCALELAW_ASSIGN_OR_RETURN(const uint64_t seed,
                                     r.Whole(n[i], absl::StrCat(p, "[", i, "]"), /*wide=*/true));
           spec->add_seeds(seed);
         }
         return absl::OkStatus();
       }},
      {"optimizer",
       [&r, &optimizer_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, optimizer_fields);
       }},
      {"data",
       [&r, &data_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, data_fields);
       }},
      {"training",
       [&r, &training_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, training_fields);
       }},
      {"launcher",
       [&r, &launcher_fields](const YAML::Node& n, const std::string& p) {
         return ReadFields(r, n, p, launcher_fields);
       }},
      {"forecast",
       [&r, &forecast_fields, forecast](const YAML::Node& n, const std::string& p) {
         *forecast = DefaultForecastPlan();
         return ReadFields(r, n, p, forecast_fields);
       }},
  };
  SCALELAW_RETURN_IF_ERROR(ReadFields(r, root, "", top_fields));
  // A spec without a forecast block stores none, so its serialised form (which
  // `scalelaw run` compares to resume) is what it was before forecasts existed.
  if (spec->forecast().ByteSizeLong() == 0) spec->clear_forecast();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::SweepSpec> ParseSweepSpec(std::string_view yaml_text,
                                             std::string_view source_view) {
  const std::string source(source_view);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a mapping of sweep fields at the top level"));
  }
  YamlReader reader(source);
  v1::SweepSpec spec = DefaultSweepSpec();
  try {
    SCALELAW_RETURN_IF_ERROR(ReadSpec(reader, root, &spec));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (spec.seeds_size() == 0) spec.add_seeds(0);
  absl::Status valid = ValidateSweepSpec(spec);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", std::string(valid.message())));
  }
  return spec;
}

absl::StatusOr<v1::SweepSpec> LoadSweepSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open sweep spec"));
  std::stringstream text;
  text << in.rdbuf();
  return ParseSweepSpec(text.str(), path);
}

}  // namespace scalelaw::sweeps
