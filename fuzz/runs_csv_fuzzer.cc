// Runs CSV (ParseRunsCsv) and the plain CSV table (ParseCsvTable, with every
// field read back through Column / Number / RowId). Any input may be refused
// with an error; none may crash, and runs the reader accepts must be valid
// observations (what every fit checks first).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fitting/csv_table.h"
#include "fitting/observation.h"
#include "fitting/runs_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace scalelaw::fitting;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<std::vector<Observation>> runs = ParseRunsCsv(text, "fuzz.csv");
  if (runs.ok() && !ValidateObservations(*runs).ok()) std::abort();

  absl::StatusOr<CsvTable> table = ParseCsvTable(text, "fuzz.csv");
  if (!table.ok()) return 0;
  for (size_t row = 0; row < table->rows.size(); ++row) {
    if (table->rows[row].size() != table->header.size()) std::abort();
    for (int col = -1; col < static_cast<int>(table->header.size()); ++col) {
      (void)table->RowId(row, col);
      if (col >= 0) (void)table->Number(row, col, /*positive=*/(row & 1) != 0);
    }
  }
  (void)table->Column({"loss", "tokens"}, /*required=*/true);
  return 0;
}
