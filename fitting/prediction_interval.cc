#include "fitting/prediction_interval.h"

#include <cmath>
#include <utility>

namespace scalelaw::fitting {

LossPrediction PredictLoss(const ChinchillaFitResult& fit, const ChinchillaBootstrap& bootstrap,
                           double params, double tokens) {
  LossPrediction out;
  out.level = bootstrap.level;
  out.loss = fit.params.Loss(params, tokens);
  out.parameter_interval = DerivedInterval(
      bootstrap, [&](const ChinchillaParams& law) { return law.Loss(params, tokens); });

  const double n = static_cast<double>(fit.residuals.size());
  constexpr double kFittedParams = 5;
  const double scale = n > kFittedParams ? std::sqrt(n / (n - kFittedParams)) : 1.0;
  // Centred, so the interval sits on the point fit even where the Huber
  // fit (close to L1 at δ = 1e-3) leaves residuals with a non-zero mean.
  double mean = 0;
  for (double r : fit.residuals) mean += r / n;
  std::vector<double> centred;
  for (double r : fit.residuals) centred.push_back(scale * (r - mean));
  double sum_squares = 0;
  for (double r : centred) sum_squares += r * r;
  out.residual_scale = n > 0 ? std::sqrt(sum_squares / n) : 0;

  std::vector<double> samples;
  samples.reserve(bootstrap.samples.size() * std::max<size_t>(fit.residuals.size(), 1));
  for (const ChinchillaParams& law : bootstrap.samples) {
    const double log_loss = std::log(law.Loss(params, tokens));
    if (!std::isfinite(log_loss)) continue;
    if (centred.empty()) samples.push_back(log_loss);
    // r = log L̂ − log L, so a run that scatters as run j did has log L = log L̂ − r.
    for (double r : centred) samples.push_back(log_loss - r);
  }
  if (samples.empty()) {
    out.prediction_interval = {std::nan(""), std::nan("")};
    return out;
  }
  const Interval log_interval = PercentileInterval(std::move(samples), bootstrap.level);
  out.prediction_interval = {std::exp(log_interval.lo), std::exp(log_interval.hi)};
  return out;
}

}  // namespace scalelaw::fitting
