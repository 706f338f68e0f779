// The training report folder: metrics.csv, the charts as PNG files and index.html. See
// ravel/train/report.h.
#include "ravel/train/report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "io/files.h"
#include "ravel/error.h"

namespace ravel::train {
namespace {

namespace fs = std::filesystem;

std::string number(double v, int digits) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

// A CSV cell: quoted when it holds a delimiter, a quote or a line end (RFC 4180).
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

void write_text(const std::string& path, const std::string& text) {
  io::atomic_write(path, "write_report",
                   [&](const io::WriteBytes& write) { write(text.data(), text.size()); });
}

size_t history_length(const ReportData& d) {
  size_t n = 0;
  for (const auto& [key, values] : d.history) n = std::max(n, values.size());
  return n;
}

// The history keys containing `part`, as series: training blue, validation ("val_...") orange,
// any others in the next colours.
std::vector<Series> series_with(const ReportData& d, const std::string& part) {
  static constexpr Color kOthers[] = {kGreen, kRed, kPurple, kBrown};
  std::vector<Series> out;
  size_t other = 0;
  for (const auto& [key, values] : d.history) {
    if (key.find(part) == std::string::npos) continue;
    const bool val = key.rfind("val_", 0) == 0;
    const bool train = key == part || key.rfind("train_", 0) == 0 || key == "accuracy";
    Color c = val ? kOrange : train ? kBlue : kOthers[other++ % 4];
    out.push_back({key, values, c});
  }
  return out;
}

std::string class_name(const ReportData& d, int64_t i) {
  if (i >= 0 && i < static_cast<int64_t>(d.class_names.size())) return d.class_names[i];
  return "class " + std::to_string(i);
}

}  // namespace

std::string write_report(const std::string& folder, const ReportData& data) {
  const std::string what = "write_report: '" + folder + "'";
  std::error_code ec;
  fs::create_directories(folder, ec);
  RAVEL_CHECK(!ec && fs::is_directory(folder), what,
              ": cannot create the folder: ", ec ? ec.message() : "a file is in the way");
  int64_t worst = 0;
  if (data.worst_images.defined()) {
    RAVEL_CHECK(data.worst_images.ndim() == 4, what, ": worst_images ", data.worst_images.shape(),
                ", expected [K, C, H, W]");
    worst = data.worst_images.shape()[0];
    RAVEL_CHECK(static_cast<int64_t>(data.worst_true.size()) == worst &&
                    static_cast<int64_t>(data.worst_pred.size()) == worst &&
                    (data.worst_confidence.empty() ||
                     static_cast<int64_t>(data.worst_confidence.size()) == worst),
                what, ": ", worst, " worst images but ", data.worst_true.size(), " true labels, ",
                data.worst_pred.size(), " predictions and ", data.worst_confidence.size(),
                " confidences, expected ", worst, " of each (confidences may be empty)");
  }
  auto file = [&](const std::string& name) { return (fs::path(folder) / name).string(); };

  // metrics.csv: one row per epoch; a series shorter than the others leaves its cells empty.
  const size_t epochs = history_length(data);
  std::string csv = "epoch";
  for (const auto& [key, values] : data.history) csv += "," + csv_cell(key);
  csv += "\n";
  for (size_t e = 0; e < epochs; ++e) {
    csv += std::to_string(e + 1);
    for (const auto& [key, values] : data.history)
      csv += "," + (e < values.size() ? number(values[e], 9) : "");
    csv += "\n";
  }
  write_text(file("metrics.csv"), csv);

  // The pictures, each with its heading on the page.
  std::vector<std::pair<std::string, std::string>> pictures;  // (file, heading)
  for (const auto& [part, name, label] :
       {std::tuple<std::string, std::string, std::string>{"loss", "loss.png", "loss"},
        {"acc", "accuracy.png", "accuracy"}}) {
    std::vector<Series> s = series_with(data, part);
    if (s.empty()) continue;
    line_chart(s, label, "epoch", label).save_png(file(name));
    pictures.emplace_back(name, label);
  }
  if (data.confusion.defined()) {
    confusion_chart(data.confusion, data.class_names).save_png(file("confusion.png"));
    pictures.emplace_back("confusion.png", "confusion matrix (rows: true class)");
  }
  if (worst > 0) {
    std::vector<std::string> captions;
    for (int64_t i = 0; i < worst; ++i) {
      std::string cap = "true: " + class_name(data, data.worst_true[i]) +
                        "\npred: " + class_name(data, data.worst_pred[i]);
      if (!data.worst_confidence.empty()) cap += "\np = " + number(data.worst_confidence[i], 3);
      captions.push_back(cap);
    }
    image_grid(data.worst_images, captions).save_png(file("worst.png"));
    pictures.emplace_back("worst.png", "worst-classified test images");
  }

  // index.html: self-contained apart from the PNG files beside it.
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      html_escape(data.title) +
      "</title>\n<style>\n"
      "body { font-family: sans-serif; margin: 2em auto; max-width: 70em; color: #222; }\n"
      "table { border-collapse: collapse; margin: 1em 0; }\n"
      "td, th { border: 1px solid #ccc; padding: 0.25em 0.75em; text-align: right; }\n"
      "th { background: #f0f0f0; } td.key { text-align: left; font-weight: bold; }\n"
      "img { max-width: 100%; image-rendering: pixelated; border: 1px solid #eee; }\n"
      "</style>\n</head>\n<body>\n<h1>" +
      html_escape(data.title) + "</h1>\n";
  if (!data.facts.empty()) {
    h += "<table class=\"facts\">\n";
    for (const auto& [k, v] : data.facts)
      h +=
          "<tr><td class=\"key\">" + html_escape(k) + "</td><td>" + html_escape(v) + "</td></tr>\n";
    h += "</table>\n";
  }
  for (const auto& [name, heading] : pictures)
    h += "<h2>" + html_escape(heading) + "</h2>\n<p><img src=\"" + name + "\" alt=\"" +
         html_escape(heading) + "\"></p>\n";
  if (epochs > 0) {
    h += "<h2>metrics per epoch</h2>\n<p><a href=\"metrics.csv\">metrics.csv</a></p>\n"
         "<table class=\"metrics\">\n<tr><th>epoch</th>";
    for (const auto& [key, values] : data.history) h += "<th>" + html_escape(key) + "</th>";
    h += "</tr>\n";
    for (size_t e = 0; e < epochs; ++e) {
      h += "<tr><td>" + std::to_string(e + 1) + "</td>";
      for (const auto& [key, values] : data.history)
        h += "<td>" + (e < values.size() ? number(values[e], 5) : "") + "</td>";
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  h += "</body>\n</html>\n";
  const std::string index = file("index.html");
  write_text(index, h);
  return index;
}

}  // namespace ravel::train
