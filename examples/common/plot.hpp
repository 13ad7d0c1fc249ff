#pragma once
// A small SVG plotting helper for descent's examples; not part of the library.
//
// A Figure is a grid of Panels; a Panel holds polylines (Series), optionally
// over contour lines of a function of two variables, and points drawn on top
// (Markers). write_svg() lays it out with one legend for the whole figure:
// every label once, each with one colour in every panel (Okabe & Ito's
// colour-blind-safe palette). Each series is one <g class="series"
// data-label="…"> element, which is what the examples' tests count.
//
// Paths may leave the plotted range: they are clipped to the plot area, and
// absurd or infinite values are clamped far outside it first; NaN breaks a
// path, as do non-positive values on a log axis. Points closer than half a
// pixel to the previous one drawn are dropped, so long runs stay small files.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace plot {

struct Series {       // one polyline
  std::string label;  // legend entry; series with the same label get the same colour in every panel
  std::vector<double> x, y;
};

struct Contours {  // optional background of a panel: contour lines of f
  std::function<double(double, double)> f;
  std::vector<double> levels;
};

struct Marker {       // a point drawn over the series (a start, a minimizer)
  std::string label;  // legend entry, shown once per figure with its symbol; may be empty
  double x = 0, y = 0;
  bool ring = false;  // an open ring; else a cross
};

struct Panel {
  std::string title, xlabel, ylabel;
  bool log_y = false;  // log10 y axis (non-positive values skipped)
  std::optional<std::pair<double, double>> xrange, yrange;  // default: fit the data (with a margin)
  std::optional<Contours> contours;                         // needs xrange and yrange
  std::vector<Series> series;
  // Additions to the API the examples share; optional.
  std::vector<Marker> markers{};  // drawn over the series
  bool log_x = false;             // log10 x axis (non-positive values skipped)
};

struct Figure {
  std::string title;
  std::vector<Panel> panels;
  int columns = 2;
  int panel_width = 520, panel_height = 380;
};

namespace detail {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Okabe & Ito (2008); yellow last, since it is faint on white.
inline const char* colour(std::size_t i) {
  static const char* const palette[] = {"#E69F00", "#56B4E9", "#009E73", "#0072B2",
                                        "#D55E00", "#CC79A7", "#000000", "#F0E442"};
  return palette[i % 8];
}

inline std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const char* const entity = c == '&'    ? "&amp;"
                               : c == '<'  ? "&lt;"
                               : c == '>'  ? "&gt;"
                               : c == '"'  ? "&quot;"
                               : c == '\'' ? "&apos;"
                                           : nullptr;
    if (entity) {
      out += entity;
    } else {
      out += c;
    }
  }
  return out;
}

inline std::string num(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

// Roughly the width in pixels of s in 12 px DejaVu Sans (or Helvetica).
inline double text_width(const std::string& s) {
  const std::string narrow = " .,:;'!|()[]Iijlft", wide = "mwMW";
  double width = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) == 0x80) continue;  // inside a UTF-8 character
    if (narrow.find(c) != std::string::npos) {
      width += 4.2;
    } else if (wide.find(c) != std::string::npos) {
      width += 11.2;
    } else {
      width += c >= 'A' && c <= 'Z' ? 8.6 : 7.2;
    }
  }
  return width;
}

struct Rect {
  double x0, y0, x1, y1;
};

// Maps data to pixels; a log axis works in log10 units (lo and hi included).
struct Axis {
  double lo, hi;
  bool log;
  double pixel_lo, pixel_hi;
  double pixel(double v) const {  // NaN for a non-positive v on a log axis
    return at(log ? (v > 0 ? std::log10(v) : kNaN) : v);
  }
  double at(double u) const { return pixel_lo + (u - lo) / (hi - lo) * (pixel_hi - pixel_lo); }
  double value(double u) const { return log ? std::pow(10.0, u) : u; }  // u in axis units
};

// The range of an axis: the given one, or the data's with a margin (whole decades on a log axis).
inline std::pair<double, double> range(const std::optional<std::pair<double, double>>& given,
                                       const std::vector<const std::vector<double>*>& data,
                                       bool log) {
  if (given) {
    if (log) return {std::log10(given->first), std::log10(given->second)};
    return *given;
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto* values : data) {
    for (const double v : *values) {
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      lo = std::min(lo, log ? std::log10(v) : v);
      hi = std::max(hi, log ? std::log10(v) : v);
    }
  }
  if (lo > hi) return {0, 1};
  if (log) return {std::floor(lo), std::max(std::ceil(hi), std::floor(lo) + 1)};
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {
    const double half = lo == 0 ? 1 : 0.1 * std::abs(lo);
    return {lo - half, hi + half};
  }
  const double margin = 0.04 * (hi - lo);
  return {lo - margin, hi + margin};
}

struct Tick {
  double value;       // in axis units (log10 on a log axis)
  std::string label;  // SVG text content; empty for a minor tick
};

// 1-2-5 steps, about `target` of them. On a log axis, a tick at every decade,
// labelled 10^k (1, 10, …, 10000 when the axis lies within them), and at
// 2…9 times each decade when there are few decades.
inline std::vector<Tick> ticks(const Axis& axis, int target) {
  std::vector<Tick> out;
  const double lo = std::min(axis.lo, axis.hi), hi = std::max(axis.lo, axis.hi);
  const double eps = 1e-9 * (hi - lo);
  if (axis.log) {
    // A label every `stride` decades (1, 2, 5, 10, 20, …), at most about 10.
    const double decades = hi - lo;
    int stride = 100;
    for (const int s : {1, 2, 5, 10, 20, 50}) {
      if (decades / s <= 10.5) {
        stride = s;
        break;
      }
    }
    const bool plain = lo > -eps && hi < 4 + eps;
    for (double k = std::ceil(lo - eps) - 1; k <= hi + eps; ++k) {
      const int e = int(k);
      if (k >= lo - eps && e % stride == 0) {
        const std::string exponent = (e < 0 ? "\u2212" : "") + std::to_string(std::abs(e));
        out.push_back({k, plain
                              ? "1" + std::string(std::size_t(e), '0')
                              : "10<tspan dy=\"-.5em\" font-size=\"9\">" + exponent + "</tspan>"});
      } else if (k >= lo - eps) {
        out.push_back({k, ""});
      }
      for (int m = 2; m <= 9 && decades <= 6; ++m) {
        const double v = k + std::log10(double(m));
        if (v > lo - eps && v < hi + eps) out.push_back({v, ""});
      }
    }
    return out;
  }
  const double raw = (hi - lo) / target, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * magnitude;
  const int decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
  const bool plain = decimals <= 6 && std::max(std::abs(lo), std::abs(hi)) < 1e7;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; ++k) {
    const double v = std::abs(k) < 0.5 ? 0.0 : k * step;
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, plain ? "%.*f" : "%.*g", plain ? decimals : 3, v);
    out.push_back({v, v < 0 ? "\u2212" + std::string(buffer + 1) : std::string(buffer)});
  }
  return out;
}

// Liang–Barsky: clips the segment to r; false if nothing of it is inside.
inline bool clip(double& x0, double& y0, double& x1, double& y1, const Rect& r) {
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - r.x0, r.x1 - x0, y0 - r.y0, r.y1 - y0};
  double t0 = 0, t1 = 1;
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
      continue;
    }
    const double t = q[k] / p[k];
    if (p[k] < 0) {
      if (t > t1) return false;
      t0 = std::max(t0, t);
    } else {
      if (t < t0) return false;
      t1 = std::min(t1, t);
    }
  }
  const double ax = x0 + t0 * dx, ay = y0 + t0 * dy;
  x1 = x0 + t1 * dx;
  y1 = y0 + t1 * dy;
  x0 = ax;
  y0 = ay;
  return true;
}

// The SVG path data of a series, clipped to r, with points that move less
// than half a pixel from the last one drawn left out.
inline std::string path_data(const Series& s, const Axis& ax, const Axis& ay, const Rect& r) {
  std::string d;
  double last_x = 0, last_y = 0;  // the last point written
  double skip_x = 0, skip_y = 0;  // a point left out, written if it ends a piece of the path
  double prev_x = 0, prev_y = 0;  // the previous data point, in pixels
  bool down = false, skipped = false, previous = false;
  const auto emit = [&](char op, double x, double y) {
    d += op + num(x) + " " + num(y);
    last_x = x;
    last_y = y;
    skipped = false;
  };
  const auto flush = [&] {
    if (skipped) emit('L', skip_x, skip_y);
  };
  const std::size_t n = std::min(s.x.size(), s.y.size());
  for (std::size_t i = 0; i < n; ++i) {
    double x = ax.pixel(s.x[i]), y = ay.pixel(s.y[i]);
    if (std::isnan(x) || std::isnan(y)) {
      previous = down = false;
      continue;
    }
    x = std::clamp(x, -1e6, 1e6);
    y = std::clamp(y, -1e6, 1e6);
    double x0 = prev_x, y0 = prev_y, x1 = x, y1 = y;
    if (previous && clip(x0, y0, x1, y1, r)) {
      const bool cut_start = x0 != prev_x || y0 != prev_y, cut_end = x1 != x || y1 != y;
      if (!down || cut_start) {
        flush();
        emit('M', x0, y0);
      }
      if (cut_end || std::hypot(x1 - last_x, y1 - last_y) >= 0.5) {
        emit('L', x1, y1);
      } else {
        skipped = true;
        skip_x = x1;
        skip_y = y1;
      }
      down = !cut_end;
    } else {
      down = false;
    }
    prev_x = x;
    prev_y = y;
    previous = true;
  }
  flush();
  return d;
}

// Whether series b runs along a: each of its points within 1.5 pixels of a's
// point of the same index, both taken to the nearest point of the plot area.
inline bool coincide(const Series& a, const Series& b, const Axis& ax, const Axis& ay,
                     const Rect& r) {
  const std::size_t n = std::min(b.x.size(), b.y.size());
  if (n == 0 || std::min(a.x.size(), a.y.size()) != n) return false;
  const auto inside = [&](double x, double y) {
    return std::pair(std::clamp(x, r.x0, r.x1), std::clamp(y, r.y0, r.y1));
  };
  for (std::size_t i = 0; i < n; ++i) {
    const double ax_ = ax.pixel(a.x[i]), ay_ = ay.pixel(a.y[i]);
    const double bx = ax.pixel(b.x[i]), by = ay.pixel(b.y[i]);
    const bool a_missing = std::isnan(ax_) || std::isnan(ay_);
    if (a_missing != (std::isnan(bx) || std::isnan(by))) return false;
    if (a_missing) continue;
    const auto [x0, y0] = inside(ax_, ay_);
    const auto [x1, y1] = inside(bx, by);
    if (std::hypot(x1 - x0, y1 - y0) > 1.5) return false;
  }
  return true;
}

// Marching squares on an n×n grid over the panel: one path per level.
inline std::string contour_data(double level, const Axis& ax, const Axis& ay,
                                const std::vector<double>& values, int n) {
  const auto at = [&](int i, int j) { return values[std::size_t(j) * std::size_t(n + 1) + i]; };
  const auto px = [&](double i) { return ax.pixel_lo + i / n * (ax.pixel_hi - ax.pixel_lo); };
  const auto py = [&](double j) { return ay.pixel_lo + j / n * (ay.pixel_hi - ay.pixel_lo); };
  std::string d;
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      const double v[4] = {at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)};
      if (!(std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]) &&
            std::isfinite(v[3])))
        continue;
      const int index =
          (v[0] > level) | (v[1] > level) << 1 | (v[2] > level) << 2 | (v[3] > level) << 3;
      if (index == 0 || index == 15) continue;
      // The crossing on edge e: 0 bottom (corners 0-1), 1 right (1-2), 2 top (3-2), 3 left (0-3).
      const auto edge = [&](int e) -> std::pair<double, double> {
        static const int from[4] = {0, 1, 3, 0}, to[4] = {1, 2, 2, 3};
        const double t = (level - v[from[e]]) / (v[to[e]] - v[from[e]]);
        if (e == 0) return {px(i + t), py(j)};
        if (e == 1) return {px(i + 1), py(j + t)};
        if (e == 2) return {px(i + t), py(j + 1)};
        return {px(i), py(j + t)};
      };
      // Segments (pairs of edges) by corner pattern. In the saddles 5 and 10
      // the cell's mean decides which corners the level cuts off.
      static const int table[16][4] = {
          {-1, -1, -1, -1}, {3, 0, -1, -1}, {0, 1, -1, -1}, {3, 1, -1, -1},
          {1, 2, -1, -1},   {3, 0, 1, 2},   {0, 2, -1, -1}, {3, 2, -1, -1},
          {2, 3, -1, -1},   {0, 2, -1, -1}, {0, 1, 2, 3},   {1, 2, -1, -1},
          {1, 3, -1, -1},   {0, 1, -1, -1}, {0, 3, -1, -1}, {-1, -1, -1, -1}};
      static const int centre_above_5[4] = {0, 1, 2, 3}, centre_above_10[4] = {3, 0, 1, 2};
      const bool centre_above = (v[0] + v[1] + v[2] + v[3]) / 4 > level;
      const int* segment = table[index];
      if (index == 5 && centre_above) segment = centre_above_5;
      if (index == 10 && centre_above) segment = centre_above_10;
      for (int k = 0; k < 4 && segment[k] >= 0; k += 2) {
        const auto [x0, y0] = edge(segment[k]);
        const auto [x1, y1] = edge(segment[k + 1]);
        d += "M" + num(x0) + " " + num(y0) + "L" + num(x1) + " " + num(y1);
      }
    }
  }
  return d;
}

}  // namespace detail

/// Writes the figure as an SVG file.
/// \throws std::invalid_argument for a panel with contours but no xrange or
///   yrange; std::runtime_error naming the path if the file cannot be written.
inline void write_svg(const Figure& figure, const std::string& path) {
  using namespace detail;
  const int count = int(figure.panels.size());
  const int columns = std::max(1, std::min(figure.columns, std::max(count, 1)));
  const int rows = (count + columns - 1) / columns;
  const double width = double(columns * figure.panel_width);

  // One colour per label, in order of first appearance; one legend for the figure.
  std::vector<std::string> labels;
  const auto colour_of = [&](const std::string& label) {
    return std::size_t(std::find(labels.begin(), labels.end(), label) - labels.begin());
  };
  std::vector<const Marker*> marker_kinds;
  for (const Panel& panel : figure.panels) {
    for (const Series& s : panel.series) {
      if (colour_of(s.label) == labels.size()) labels.push_back(s.label);
    }
    for (const Marker& m : panel.markers) {
      const bool known = std::any_of(marker_kinds.begin(), marker_kinds.end(),
                                     [&](const Marker* k) { return k->label == m.label; });
      if (!m.label.empty() && !known) marker_kinds.push_back(&m);
    }
  }

  std::string svg, legend;
  const auto marker_svg = [](const Marker& m, double x, double y) {
    if (m.ring) {
      return "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) +
             "\" r=\"5\" fill=\"white\" stroke=\"#222\" stroke-width=\"2\"/>";
    }
    const std::string a = num(x - 5), b = num(x + 5), c = num(y - 5), e = num(y + 5);
    const std::string cross =
        "M" + a + " " + c + "L" + b + " " + e + "M" + a + " " + e + "L" + b + " " + c;
    return "<path d=\"" + cross + "\" stroke=\"white\" stroke-width=\"5\"/><path d=\"" + cross +
           "\" stroke=\"#222\" stroke-width=\"2.2\"/>";
  };

  // The legend: entries flow left to right, wrapping at the figure's width.
  const double top = figure.title.empty() ? 8 : 40;
  double lx = 20, ly = top + 12;
  const auto place = [&](const std::string& text) {
    const double w = 34 + text_width(text) + 22;
    if (lx + w > width - 10 && lx > 20) {
      lx = 20;
      ly += 22;
    }
    const double x = lx;
    lx += w;
    return x;
  };
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double x = place(labels[i]);
    legend += "<path d=\"M" + num(x) + " " + num(ly) + "h26\" stroke=\"" + colour(i) +
              "\" stroke-width=\"3\"/><text x=\"" + num(x + 32) + "\" y=\"" + num(ly) +
              "\" dy=\".35em\">" + escape(labels[i]) + "</text>\n";
  }
  for (const Marker* m : marker_kinds) {
    const double x = place(m->label);
    legend += marker_svg(*m, x + 13, ly) + "<text x=\"" + num(x + 32) + "\" y=\"" + num(ly) +
              "\" dy=\".35em\">" + escape(m->label) + "</text>\n";
  }
  const double panels_top = labels.empty() && marker_kinds.empty() ? top : ly + 18;
  const double height = panels_top + rows * figure.panel_height;

  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" +
         num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
         "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  if (!figure.title.empty()) {
    svg += "<text x=\"" + num(width / 2) +
           "\" y=\"26\" text-anchor=\"middle\" font-size=\"17\" font-weight=\"bold\">" +
           escape(figure.title) + "</text>\n";
  }
  svg += "<g class=\"legend\">\n" + legend + "</g>\n";

  for (int p = 0; p < count; ++p) {
    const Panel& panel = figure.panels[std::size_t(p)];
    const double left = (p % columns) * figure.panel_width;
    const double up = panels_top + (p / columns) * figure.panel_height;
    const Rect r{left + 72, up + 28, left + figure.panel_width - 20.0,
                 up + figure.panel_height - 46.0};
    if (panel.contours && (!panel.xrange || !panel.yrange)) {
      throw std::invalid_argument("plot::write_svg: panel \"" + panel.title +
                                  "\" has contours but no xrange or yrange");
    }
    std::vector<const std::vector<double>*> xs, ys;
    for (const Series& s : panel.series) {
      xs.push_back(&s.x);
      ys.push_back(&s.y);
    }
    const auto [xlo, xhi] = range(panel.xrange, xs, panel.log_x);
    const auto [ylo, yhi] = range(panel.yrange, ys, panel.log_y);
    const Axis ax{xlo, xhi, panel.log_x, r.x0, r.x1}, ay{ylo, yhi, panel.log_y, r.y1, r.y0};
    const std::string clip_id = "plot-area-" + std::to_string(p);

    svg += "<g class=\"panel\">\n<clipPath id=\"" + clip_id + "\"><rect x=\"" + num(r.x0) +
           "\" y=\"" + num(r.y0) + "\" width=\"" + num(r.x1 - r.x0) + "\" height=\"" +
           num(r.y1 - r.y0) + "\"/></clipPath>\n";
    svg += "<text x=\"" + num((r.x0 + r.x1) / 2) + "\" y=\"" + num(up + 18) +
           "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
           escape(panel.title) + "</text>\n";

    // Ticks, their labels and (without contours) grid lines.
    const std::vector<Tick> x_ticks = ticks(ax, std::max(3, int((r.x1 - r.x0) / 80)));
    const std::vector<Tick> y_ticks = ticks(ay, std::max(3, int((r.y1 - r.y0) / 50)));
    std::string grid, marks, text;  // grid lines (without contours) at the labelled ticks
    for (const Tick& t : x_ticks) {
      const double x = ax.at(t.value);
      const bool major = !t.label.empty();
      if (major && !panel.contours) grid += "M" + num(x) + " " + num(r.y0) + "V" + num(r.y1);
      marks += "M" + num(x) + " " + num(r.y1) + "v" + (major ? "5" : "3");
      if (major) {
        text += "<text x=\"" + num(x) + "\" y=\"" + num(r.y1 + 18) + "\" text-anchor=\"middle\">" +
                t.label + "</text>";
      }
    }
    for (const Tick& t : y_ticks) {
      const double y = ay.at(t.value);
      const bool major = !t.label.empty();
      if (major && !panel.contours) grid += "M" + num(r.x0) + " " + num(y) + "H" + num(r.x1);
      marks += "M" + num(r.x0) + " " + num(y) + "h" + (major ? "-5" : "-3");
      if (major) {
        text += "<text x=\"" + num(r.x0 - 8) + "\" y=\"" + num(y) +
                "\" dy=\".35em\" text-anchor=\"end\">" + t.label + "</text>";
      }
    }
    if (!grid.empty()) svg += "<path d=\"" + grid + "\" stroke=\"#e6e6e6\"/>\n";

    if (panel.contours) {
      constexpr int n = 120;
      std::vector<double> values(std::size_t(n + 1) * std::size_t(n + 1));
      for (int j = 0; j <= n; ++j) {
        for (int i = 0; i <= n; ++i) {
          values[std::size_t(j) * (n + 1) + std::size_t(i)] = panel.contours->f(
              ax.value(ax.lo + (ax.hi - ax.lo) * i / n), ay.value(ay.lo + (ay.hi - ay.lo) * j / n));
        }
      }
      svg += "<g class=\"contours\" fill=\"none\" stroke=\"#b4b4b4\" stroke-width=\"0.8\">\n";
      for (const double level : panel.contours->levels) {
        const std::string d = contour_data(level, ax, ay, values, n);
        if (!d.empty()) svg += "<path d=\"" + d + "\"/>\n";
      }
      svg += "</g>\n";
    }

    // A series that runs along an earlier one is dashed, so that both show.
    for (std::size_t k = 0; k < panel.series.size(); ++k) {
      const Series& s = panel.series[k];
      const std::size_t i = colour_of(s.label);
      bool dashed = i >= 8;
      for (std::size_t j = 0; j < k && !dashed; ++j)
        dashed = coincide(panel.series[j], s, ax, ay, r);
      const std::string d = path_data(s, ax, ay, r);  // empty if nothing of it is in the area
      svg += "<g class=\"series\" data-label=\"" + escape(s.label) + "\" clip-path=\"url(#" +
             clip_id + ")\">";
      if (!d.empty()) {
        svg += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour(i) +
               "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"" +
               (dashed ? " stroke-dasharray=\"7 5\"" : "") + "/>";
      }
      svg += "</g>\n";
    }
    for (const Marker& m : panel.markers) {
      const double x = ax.pixel(m.x), y = ay.pixel(m.y);
      if (x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1) svg += marker_svg(m, x, y) + "\n";
    }

    svg += "<rect x=\"" + num(r.x0) + "\" y=\"" + num(r.y0) + "\" width=\"" + num(r.x1 - r.x0) +
           "\" height=\"" + num(r.y1 - r.y0) + "\" fill=\"none\" stroke=\"#333\"/>\n";
    svg += "<path d=\"" + marks + "\" stroke=\"#333\"/>\n" + text + "\n";
    svg += "<text x=\"" + num((r.x0 + r.x1) / 2) + "\" y=\"" + num(r.y1 + 38) +
           "\" text-anchor=\"middle\">" + escape(panel.xlabel) + "</text>\n";
    svg += "<text transform=\"translate(" + num(left + 18) + " " + num((r.y0 + r.y1) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + escape(panel.ylabel) + "</text>\n</g>\n";
  }
  svg += "</svg>\n";

  std::ofstream out(path, std::ios::binary);
  out << svg;
  out.close();
  if (!out) throw std::runtime_error("plot::write_svg: cannot write " + path);
}

}  // namespace plot
