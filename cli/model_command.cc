// `scalelaw model shapes`: the shapes the sweep planner picks for target
// parameter counts, with their exact counts and FLOPs per token. Torch-free:
// the counts come from sweeps/accounting.h, which worker/gpt_test checks
// against the built libtorch model.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "sweeps/accounting.h"
#include "sweeps/model_shape.h"

namespace scalelaw::cli {
namespace {

struct ShapesFlags {
  std::vector<double> params;
  uint32_t vocab_size = 256;
  uint32_t context = 128;
  uint32_t aspect_ratio = sweeps::kDefaultAspectRatio;
  bool json = false;
};

nlohmann::ordered_json ShapeRow(double target, const v1::ModelShape& shape) {
  const sweeps::ParamCounts counts = sweeps::CountParams(shape);
  nlohmann::ordered_json row;
  row["target_params"] = target;
  row["n_layer"] = shape.n_layer();
  row["d_model"] = shape.d_model();
  row["n_head"] = shape.n_head();
  row["n_ctx"] = shape.n_ctx();
  row["vocab_size"] = shape.vocab_size();
  row["params"] = counts.total;
  row["non_embedding_params"] = counts.non_embedding;
  row["embedding_params"] = counts.embedding;
  row["flops_per_token"] = sweeps::FlopsPerToken(shape, counts.total);
  row["flops_per_token_6n"] = sweeps::FlopsPerToken6N(counts.total);
  return row;
}

int RunShapes(const ShapesFlags& flags) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (double target : flags.params) {
    rows.push_back(ShapeRow(target, sweeps::ShapeForParams(target, flags.context, flags.vocab_size,
                                                           flags.aspect_ratio)));
  }
  if (flags.json) {
    std::cout << rows.dump(2) << std::endl;
    return 0;
  }
  std::printf(
      "shape rule: d_model / n_layer within 2x of %u, head size 32 below d_model 256 else 64, "
      "closest total count; vocab %u, context %u, tied head counted once\n"
      "FLOPs per training token: 6N and 6N + 6 n_layer n_ctx d_model (Kaplan et al. 2020)\n\n",
      flags.aspect_ratio, flags.vocab_size, flags.context);
  std::printf("%10s %7s %7s %6s %14s %14s %12s %12s %12s\n", "target", "n_layer", "d_model",
              "n_head", "params", "non-embedding", "embedding", "flops/token", "6N");
  for (const nlohmann::ordered_json& row : rows) {
    std::printf("%10.3g %7u %7u %6u %14llu %14llu %12llu %12.4g %12.4g\n",
                row["target_params"].get<double>(), row["n_layer"].get<uint32_t>(),
                row["d_model"].get<uint32_t>(), row["n_head"].get<uint32_t>(),
                row["params"].get<unsigned long long>(),
                row["non_embedding_params"].get<unsigned long long>(),
                row["embedding_params"].get<unsigned long long>(),
                row["flops_per_token"].get<double>(), row["flops_per_token_6n"].get<double>());
  }
  return 0;
}

}  // namespace

void AddModelCommand(CLI::App& app, int* exit_code) {
  CLI::App* model =
      AddSubcommand(app, "model", "Model family: shapes, parameter counts and FLOPs",
                    "Inspect the decoder-only transformer family the sweeps train.\n\n"
                    "Example: scalelaw model shapes --params 1e6,1e7,1e8 --json");
  model->require_subcommand(1);
  auto flags = std::make_shared<ShapesFlags>();
  CLI::App* shapes = AddSubcommand(
      *model, "shapes", "Shapes, exact parameter counts and FLOPs per token for target sizes",
      "For each target parameter count, the shape the sweep planner picks (aspect-ratio rule),\n"
      "its exact total, non-embedding and embedding parameter counts (the built model's),\n"
      "and training FLOPs per token with and without the attention term.\n\n"
      "Example: scalelaw model shapes --params 1e6,1e7 --vocab-size 256 --context 128 --json");
  shapes->add_option("--params", flags->params, "target total parameters, comma separated")
      ->required()
      ->delimiter(',')
      ->check(CLI::Range(1e3, 1e13));
  shapes->add_option("--vocab-size", flags->vocab_size, "vocabulary size (default 256: bytes)")
      ->check(CLI::Range(1, 1 << 24));
  shapes->add_option("--context", flags->context, "context length, tokens (default 128)")
      ->check(CLI::Range(1, 1 << 20));
  shapes->add_option("--aspect-ratio", flags->aspect_ratio, "d_model / n_layer (default 32)")
      ->check(CLI::Range(1, 4096));
  shapes->add_flag("--json", flags->json, "print a JSON array");
  shapes->callback([flags, exit_code] { *exit_code = RunShapes(*flags); });
}

}  // namespace scalelaw::cli
