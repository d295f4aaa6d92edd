#include "sweeps/spec_defaults.h"

#include "data/token_dataset.h"

namespace scalelaw::sweeps {

v1::SweepSpec DefaultSweepSpec() {
  v1::SweepSpec spec;
  spec.set_context(128);
  spec.set_max_attempts(3);

  // AdamW settings of nanoGPT / Chinchilla-style small-model sweeps.
  v1::OptimizerConfig* opt = spec.mutable_optimizer();
  opt->set_lr(1e-3);
  opt->set_min_lr_ratio(0.1);
  opt->set_warmup_fraction(0.05);
  opt->set_weight_decay(0.1);
  opt->set_beta1(0.9);
  opt->set_beta2(0.95);
  opt->set_grad_clip(1.0);
  opt->set_schedule("cosine");
  opt->set_lr_exponent(0.0);
  opt->set_lr_reference_params(1e6);
  opt->set_cooldown_fraction(0.2);  // Hägele et al. 2024: 10-20% of the tokens

  // Used only when isoflop.budgets is given.
  v1::IsoflopPlan* isoflop = spec.mutable_isoflop();
  isoflop->set_sizes_per_budget(7);
  isoflop->set_flops("exact");

  v1::DataConfig* data = spec.mutable_data();
  data->set_corpus(kDefaultCorpus);
  data->set_tokenizer("byte");
  data->set_val_fraction(0.05);

  v1::TrainingConfig* training = spec.mutable_training();
  training->set_batch_size(32);
  training->set_micro_batches(2);
  training->set_threads(1);
  training->set_device("cpu");
  training->set_precision("fp32");
  training->set_eval_points(6);
  training->set_eval_batches(8);
  training->set_log_every_steps(10);
  // No checkpoints unless a directory is named (`scalelaw run` names one);
  // then one every 100 steps: a few seconds of a small CPU trial to redo.
  training->set_checkpoint_dir("");
  training->set_checkpoint_every_steps(100);

  // Workers are started by hand or by `scalelaw run` unless the spec names a
  // launcher (coordinator/launcher.h). Slurm's pre-timeout signal is TERM, not
  // USR1 (many site prologues use USR1), two minutes before the time limit.
  v1::LauncherConfig* launcher = spec.mutable_launcher();
  launcher->set_kind("local");
  launcher->mutable_slurm()->set_signal("TERM");
  launcher->mutable_slurm()->set_signal_seconds(120);
  return spec;
}

v1::ForecastPlan DefaultForecastPlan() {
  v1::ForecastPlan plan;
  plan.set_law("chinchilla");
  plan.set_bootstrap(200);
  plan.set_level(0.9);
  plan.set_param_count("total");
  return plan;
}

uint32_t VocabSizeOf(const std::string& tokenizer) { return tokenizer == "byte" ? 256 : 0; }

uint32_t VocabSizeOf(const v1::DataConfig& data) {
  const absl::StatusOr<uint32_t> vocab = data::DataVocabSize(data.corpus(), data.tokenizer());
  return vocab.ok() ? *vocab : VocabSizeOf(data.tokenizer());
}

}  // namespace scalelaw::sweeps
