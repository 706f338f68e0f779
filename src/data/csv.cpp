// Numeric CSV: RFC 4180 quoting (a quoted cell may hold the delimiter, newlines and doubled
// quotes), "\n", "\r\n" or "\r" line ends, blank lines skipped, spaces around cells ignored.
// Numbers parse like numpy.loadtxt: decimal or scientific, optional sign, inf and nan. Errors
// name the line (1-based, as an editor shows it), the column and the text.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>
#include <unordered_map>

#include "ravel/data/readers.h"

namespace ravel::data {
namespace {

struct Record {
  std::vector<std::string> cells;
  int64_t line;  // where the record starts
};

// Splits text into records of cells; blank lines give none.
std::vector<Record> split_records(std::string_view text, char delim, const std::string& what) {
  std::vector<Record> records;
  const size_t n = text.size();
  size_t i = 0;
  int64_t line = 1;
  auto is_pad = [delim](char c) { return (c == ' ' || c == '\t') && c != delim; };
  auto at_line_end = [&](size_t k) { return k == n || text[k] == '\n' || text[k] == '\r'; };
  while (i < n) {
    Record rec{{}, line};
    bool any_quoted = false;
    while (true) {  // one cell a pass
      while (i < n && is_pad(text[i])) ++i;
      std::string cell;
      if (i < n && text[i] == '"') {
        any_quoted = true;
        const int64_t quote_line = line;
        for (++i;; ++i) {
          RAVEL_CHECK(i < n, what, ": line ", quote_line, ": a quoted cell is never closed");
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              cell += '"';
              ++i;
              continue;
            }
            ++i;
            break;
          }
          if (text[i] == '\n') ++line;
          cell += text[i];
        }
        while (i < n && is_pad(text[i])) ++i;
        RAVEL_CHECK(at_line_end(i) || text[i] == delim, what, ": line ", line, ": '", text[i],
                    "' after a closing quote, expected the delimiter or the end of the line");
      } else {
        const size_t start = i;
        while (!at_line_end(i) && text[i] != delim) ++i;
        size_t end = i;
        while (end > start && is_pad(text[end - 1])) --end;
        cell.assign(text.substr(start, end - start));
      }
      rec.cells.push_back(std::move(cell));
      if (i < n && text[i] == delim) {
        ++i;
        continue;
      }
      if (i < n) {  // the line end: "\r\n", "\n" or "\r"
        i += text[i] == '\r' && i + 1 < n && text[i + 1] == '\n' ? 2 : 1;
        ++line;
      }
      break;
    }
    if (any_quoted || rec.cells.size() > 1 || !rec.cells[0].empty())
      records.push_back(std::move(rec));
  }
  return records;
}

// Like numpy.loadtxt's float(): optional sign, decimal or scientific, inf, nan; spaces around.
bool parse_number(std::string_view s, double& v) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) return false;
  }
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {  // from_chars leaves v alone: +-inf or +-0
    v = std::strtod(std::string(s).c_str(), nullptr);
    return true;
  }
  return ec == std::errc();
}

// A cell for an error message: quoted, long text cut.
std::string show(const std::string& cell) {
  constexpr size_t kMax = 40;
  return "'" + (cell.size() <= kMax ? cell : cell.substr(0, kMax) + "...") + "'";
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (out.size() > 200) return out + ", ...";
    out += (out.empty() ? "" : ", ") + show(name);
  }
  return out;
}

// The label column's index, or -1 when there is none.
int64_t label_column(const CsvOptions& o, const std::vector<std::string>& names,
                     const std::string& what) {
  if (o.label_column.empty()) return -1;
  const auto ncols = static_cast<int64_t>(names.size());
  if (o.header) {
    auto it = std::find(names.begin(), names.end(), o.label_column);
    if (it != names.end()) return it - names.begin();
  }
  const std::string& text = o.label_column;
  int64_t index = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (ec != std::errc() || end != text.data() + text.size()) {
    if (o.header)
      detail::throw_error(what, ": label column ", show(text), " is not in the header (",
                          join(names), ") nor a column index");
    detail::throw_error(what, ": label column ", show(text),
                        " is not a column index (like \"0\" or \"-1\"), and without a header "
                        "columns have no names");
  }
  RAVEL_CHECK(index >= -ncols && index < ncols, what, ": label column index ", index,
              " is out of range for ", ncols, " columns");
  return index < 0 ? index + ncols : index;
}

// Class indices: integer labels as they are; otherwise each distinct text is a class, numbered
// in order of first appearance (its text goes to class_names).
Tensor class_labels(const std::vector<Record>& rows, int64_t col, const std::string& col_name,
                    std::vector<std::string>& class_names, const std::string& what) {
  const auto n = static_cast<int64_t>(rows.size());
  Tensor labels = empty({n}, DType::Int64);
  int64_t* out = labels.data_ptr<int64_t>();
  bool integers = true;
  for (int64_t r = 0; r < n && integers; ++r) {
    double v;
    integers = parse_number(rows[r].cells[col], v) && std::isfinite(v) && v == std::floor(v) &&
               std::abs(v) <= 9007199254740992.0;  // 2^53: exact in a double
    out[r] = integers ? static_cast<int64_t>(v) : 0;
  }
  if (integers) {
    for (int64_t r = 0; r < n; ++r)
      RAVEL_CHECK(out[r] >= 0, what, ": line ", rows[r].line, ", label column '", col_name,
                  "': class ", out[r],
                  " is negative, expected class indices >= 0 (or labels_are_classes = false)");
    return labels;
  }
  std::unordered_map<std::string, int64_t> ids;
  for (int64_t r = 0; r < n; ++r) {
    const std::string& cell = rows[r].cells[col];
    RAVEL_CHECK(!cell.empty(), what, ": line ", rows[r].line, ", label column '", col_name,
                "': empty label");
    auto [it, added] = ids.emplace(cell, static_cast<int64_t>(ids.size()));
    if (added) class_names.push_back(cell);
    out[r] = it->second;
  }
  return labels;
}

}  // namespace

CsvTable csv_from_string(const std::string& text, const CsvOptions& o, const std::string& what) {
  RAVEL_CHECK(o.delimiter != '"' && o.delimiter != '\n' && o.delimiter != '\r', what,
              ": the delimiter cannot be a quote or a line end (got code ", int{o.delimiter}, ")");
  std::vector<Record> records = split_records(text, o.delimiter, what);
  RAVEL_CHECK(!records.empty(), what, ": empty: no ", o.header ? "header row" : "rows");
  const size_t ncols = records[0].cells.size();
  std::vector<std::string> names;
  if (o.header) {
    names = std::move(records[0].cells);
    records.erase(records.begin());
  } else {
    for (size_t c = 0; c < ncols; ++c) names.push_back(std::to_string(c));
  }
  const int64_t label = label_column(o, names, what);
  for (const Record& rec : records)
    RAVEL_CHECK(rec.cells.size() == ncols, what, ": line ", rec.line, " has ", rec.cells.size(),
                " cells, expected ", ncols,
                o.header ? " (as many as the header)" : " (as many as the first row)");

  CsvTable table;
  for (size_t c = 0; c < ncols; ++c)
    if (static_cast<int64_t>(c) != label) table.feature_names.push_back(names[c]);
  const auto rows = static_cast<int64_t>(records.size());
  const auto nfeat = static_cast<int64_t>(table.feature_names.size());
  table.features = empty({rows, nfeat}, DType::Float32);
  float* f = table.features.data_ptr<float>();
  // One number, or an error naming the line, the column and the text.
  auto number = [&](const Record& rec, size_t c) {
    double v;
    RAVEL_CHECK(parse_number(rec.cells[c], v), what, ": line ", rec.line, ", column '", names[c],
                "': ", rec.cells[c].empty() ? "empty cell" : show(rec.cells[c]),
                rec.cells[c].empty() ? "" : " is not a number");
    return static_cast<float>(v);
  };
  for (const Record& rec : records)
    for (size_t c = 0; c < ncols; ++c)
      if (static_cast<int64_t>(c) != label) *f++ = number(rec, c);
  if (label < 0) return table;
  if (o.labels_are_classes) {
    table.labels = class_labels(records, label, names[label], table.class_names, what);
  } else {
    table.labels = empty({rows}, DType::Float32);
    float* l = table.labels.data_ptr<float>();
    for (const Record& rec : records) *l++ = number(rec, label);
  }
  return table;
}

}  // namespace ravel::data
