// A tour of descent: the lecture's optimizers (with --all, every optimizer
// descent has), from the same start, on four classic 2-D test functions (the
// lecture's deep valley, Rosenbrock, Beale and Himmelblau).
//
//   ./tour                 5000 steps per run
//   ./tour --quick         300 steps per run, no commentary (the ctest smoke test)
//   ./tour --out DIR       write the figures to DIR (default: the current directory)
//   ./tour --all           every optimizer descent has: the lecture's above, then
//                          each other first-order one with its defaults (tables
//                          and figures), then full-batch L-BFGS on each function
//   ./tour --optimizer NAME [--opt KEY=VALUE]...
//                          only that optimizer (descent::make_optimizer's names,
//                          as --help lists them), with those options (its option names, or
//                          profile=lecture|pytorch|keras); the lr is still the
//                          best of the grid unless --opt lr=… fixes it. No
//                          commentary (it compares the optimizers). A bad name,
//                          key or value prints the library's message and exits 2.
//   ./tour --help          this usage
//
// Fair tuning: for each function and optimizer the learning rate is the best
// of one fixed grid, the same grid and the same rule for everyone; the other
// options are set once, for all functions, and printed next to lr.
//
// Every run keeps its path (the start, then the params after each step) in a
// std::vector<Eigen::Vector2d>. The best run of each optimizer is drawn in two
// figures: tour.svg, the paths over contour lines of each function, and
// tour_loss.svg, f − f* against the step.

#include "common/options.hpp"
#include "common/plot.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <descent/descent.hpp>

namespace {

using Vec = Eigen::Vector2d;
using Optimizer = descent::Optimizer<double>;

constexpr double kTolerance = 1e-6;  // "reached" means f − f* < kTolerance

// ---------------------------------------------------------------------------
// The test functions, with their gradients written out by hand.

// The lecture's deep valley: curvature 1/10 along x, 2 along y.
double valley(const Vec& p) { return p.x() * p.x() / 20 + p.y() * p.y(); }
Vec valley_grad(const Vec& p) { return {p.x() / 10, 2 * p.y()}; }

double rosenbrock(const Vec& p) {
  const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
  return a * a + 100 * b * b;
}
Vec rosenbrock_grad(const Vec& p) {
  const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
  return {-2 * a - 400 * p.x() * b, 200 * b};
}

// Beale: the sum of (c_k − x + x·y^k)² over k = 1, 2, 3.
double beale(const Vec& p) {
  const double x = p.x(), y = p.y();
  const double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
  return a * a + b * b + c * c;
}
Vec beale_grad(const Vec& p) {
  const double x = p.x(), y = p.y();
  const double a = 1.5 - x + x * y, b = 2.25 - x + x * y * y, c = 2.625 - x + x * y * y * y;
  return {2 * a * (y - 1) + 2 * b * (y * y - 1) + 2 * c * (y * y * y - 1),
          2 * a * x + 4 * b * x * y + 6 * c * x * y * y};
}

// Himmelblau: four minima (all 0), four saddles and a local maximum.
double himmelblau(const Vec& p) {
  const double a = p.x() * p.x() + p.y() - 11, b = p.x() + p.y() * p.y() - 7;
  return a * a + b * b;
}
Vec himmelblau_grad(const Vec& p) {
  const double a = p.x() * p.x() + p.y() - 11, b = p.x() + p.y() * p.y() - 7;
  return {4 * p.x() * a + 2 * b, 2 * a + 4 * p.y() * b};
}

// ---------------------------------------------------------------------------
// The optimizers. `settings` spells out the options `make` sets besides lr;
// every other option keeps the library's default.

struct Method {
  const char* name;
  const char* settings;
  std::function<std::unique_ptr<Optimizer>(double lr)> make;
};

template <typename Opt>
std::unique_ptr<Optimizer> make(const typename Opt::Options& options) {
  return std::make_unique<Opt>(options);
}

std::vector<Method> methods() {
  using namespace descent;
  return {
      {"GradientDescent", "",
       [](double lr) {
         GradientDescent<double>::Options o;
         o.lr = lr;
         return make<GradientDescent<double>>(o);
       }},
      // Keras's form v ← μ·v − lr·g: Momentum at 1/(1 − μ) = 10 times the lr.
      {"SGD", "momentum=0.9",
       [](double lr) {
         SGD<double>::Options o;
         o.lr = lr;
         o.momentum = 0.9;
         return make<SGD<double>>(o);
       }},
      {"Momentum", "beta=0.9",
       [](double lr) {
         Momentum<double>::Options o;
         o.lr = lr;
         o.beta = 0.9;
         return make<Momentum<double>>(o);
       }},
      // Its params hold the look-ahead point θ + β·Δ; that is what f, the
      // distance and the path below are measured at.
      {"Nesterov", "beta=0.9",
       [](double lr) {
         Nesterov<double>::Options o;
         o.lr = lr;
         o.beta = 0.9;
         return make<Nesterov<double>>(o);
       }},
      {"AdaGrad", "",
       [](double lr) {
         AdaGrad<double>::Options o;
         o.lr = lr;
         return make<AdaGrad<double>>(o);
       }},
      {"RMSprop", "rho=0.99",
       [](double lr) {
         RMSprop<double>::Options o;
         o.lr = lr;
         o.rho = 0.99;
         return make<RMSprop<double>>(o);
       }},
      {"Adam", "beta1=0.9 beta2=0.999",
       [](double lr) {
         Adam<double>::Options o;
         o.lr = lr;
         o.beta1 = 0.9;
         o.beta2 = 0.999;
         return make<Adam<double>>(o);
       }},
  };
}

// --all: the lecture's optimizers above, then every other first-order one
// descent has (its registry, through make_optimizer), with its defaults.
std::vector<Method> all_methods() {
  std::vector<Method> all = methods();
  for (const std::string& name : descent::optimizer_names()) {
    const std::string_view kind = descent::make_optimizer<double>(name, {})->name();
    bool listed = false;
    for (const Method& m : all) listed = listed || kind == m.name;
    if (listed) continue;
    // Muon orthogonalizes matrices; these 2-D points are vectors, which it
    // steps with its AdamW fallback, whose step size is adamw_lr: the grid's lr
    // goes there.
    const bool muon = kind == "Muon";
    all.push_back({kind.data(), muon ? "adamw_lr=lr" : "",
                   [name, muon](double lr) {  // kName: a string literal
                     std::map<std::string, std::string> options;
                     if (muon) {
                       char text[32];
                       std::snprintf(text, sizeof text, "%.17g", lr);
                       options["adamw_lr"] = text;
                     }
                     std::unique_ptr<Optimizer> optimizer =
                         descent::make_optimizer<double>(name, options);
                     optimizer->set_lr(lr);
                     return optimizer;
                   }});
  }
  return all;
}

// lr = 10^(k/4) from 1e-4 to 10, four points a decade, for every optimizer.
// It reaches 10 because the lecture's Momentum and Nesterov scale their step
// by (1 − beta): with beta = 0.9 their lr is ten times the effective one.
std::vector<double> lr_grid() {
  std::vector<double> grid;
  for (int k = -16; k <= 4; ++k) grid.push_back(std::pow(10.0, k / 4.0));
  return grid;
}

// ---------------------------------------------------------------------------
// Runs and results.

struct Run {
  double lr = 0;
  std::vector<Vec> path;  // path[0] is the start, path[t] the params after step t
  bool diverged = false;
  double gap = std::numeric_limits<double>::infinity();  // final f − f*
  double lowest_gap = std::numeric_limits<double>::infinity();
  long lowest_step = 0;  // the step with the lowest f − f*
  double distance = std::numeric_limits<double>::infinity();
  std::size_t nearest = 0;  // index of the known minimizer closest to the end
  long steps = -1;          // the step from which on f − f* < kTolerance; -1 if never
  double seconds = 0;
};

// One lr of the grid: how the run ended, and the lowest f − f* on its way.
struct Trial {
  double lr, gap, lowest_gap;
  long lowest_step;
};

// One optimizer on one problem: its best run, and every lr tried.
struct Tuned {
  const Method* method = nullptr;
  Run best;
  int reached = 0;  // grid lrs that reach the tolerance
  std::vector<Trial> trials;

  const Trial& at(double lr) const {
    for (const Trial& trial : trials) {
      if (std::abs(trial.lr / lr - 1) < 1e-9) return trial;
    }
    throw std::out_of_range("tour: lr not in the grid");
  }
};

struct Problem;

struct Table {
  const Problem* problem;
  int budget;
  int grid_size;
  std::vector<Tuned> rows;

  const Tuned& operator[](std::string_view name) const {
    for (const Tuned& row : rows) {
      if (row.method->name == name) return row;
    }
    throw std::out_of_range("tour: no optimizer named " + std::string(name));
  }
};

struct Problem {
  const char* name;
  const char* formula;
  double (*f)(const Vec&);
  Vec (*grad)(const Vec&);
  Vec start;
  double f_min;
  std::vector<Vec> minimizers;
  std::string (*note)(const Table&);  // what the table shows, in its own numbers
  // The figure: the region shown, and the levels of its contour lines.
  std::pair<double, double> xrange, yrange;
  std::vector<double> levels;
};

Run run(const Problem& problem, const Method& method, double lr, int budget) {
  Run r;
  r.lr = lr;
  r.path.reserve(std::size_t(budget) + 1);
  const std::unique_ptr<Optimizer> optimizer = method.make(lr);
  Vec x = problem.start;
  r.path.push_back(x);
  // The last step at which f − f* >= kTolerance (-1: not even at the start).
  long last_above = problem.f(x) - problem.f_min < kTolerance ? -1 : 0;

  const auto t0 = std::chrono::steady_clock::now();
  for (int t = 1; t <= budget; ++t) {
    optimizer->step(x, problem.grad(x));
    r.path.push_back(x);
    const double gap = problem.f(x) - problem.f_min;
    if (!std::isfinite(gap) || x.norm() > 1e6) {
      r.diverged = true;
      break;
    }
    if (!(gap < kTolerance)) last_above = t;
    if (gap < r.lowest_gap) {
      r.lowest_gap = gap;
      r.lowest_step = t;
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.diverged) return r;

  r.gap = problem.f(x) - problem.f_min;
  if (last_above < budget) r.steps = last_above + 1;
  for (std::size_t i = 0; i < problem.minimizers.size(); ++i) {
    const double d = (x - problem.minimizers[i]).norm();
    if (d < r.distance) {
      r.distance = d;
      r.nearest = i;
    }
  }
  return r;
}

// Fewer steps to reach the tolerance wins; among runs that never reach it,
// the lower final f; a diverged run loses to any other.
bool better(const Run& a, const Run& b) {
  if (a.diverged != b.diverged) return b.diverged;
  if ((a.steps >= 0) != (b.steps >= 0)) return a.steps >= 0;
  if (a.steps != b.steps) return a.steps < b.steps;
  return a.gap < b.gap;
}

Tuned tune(const Problem& problem, const Method& method, const std::vector<double>& grid,
           int budget) {
  Tuned tuned;
  tuned.method = &method;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    Run r = run(problem, method, grid[i], budget);
    tuned.reached += r.steps >= 0;
    tuned.trials.push_back({r.lr, r.gap, r.lowest_gap, r.lowest_step});
    if (i == 0 || better(r, tuned.best)) tuned.best = std::move(r);
  }
  return tuned;
}

// ---------------------------------------------------------------------------
// Printing.

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  std::string s(std::size_t(std::snprintf(nullptr, 0, fmt, args...)), '\0');
  std::snprintf(s.data(), s.size() + 1, fmt, args...);
  return s;
}

// Pads s with spaces to `width` characters, counting UTF-8 code points.
std::string pad(std::string s, std::size_t width) {
  std::size_t chars = 0;
  for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
  s.append(chars < width ? width - chars : 1, ' ');  // at least one space after
  return s;
}

std::string steps_text(const Run& r) { return r.steps >= 0 ? std::to_string(r.steps) : "–"; }

std::string point_text(const Vec& p) { return format("(%.2f, %.2f)", p.x(), p.y()); }

// Column widths: optimizer, settings, final f, distance, steps, reached, time.
constexpr std::size_t kWidths[] = {17, 34, 11, 11, 7, 9, 10};

void print_header(const Problem& p, int budget, int grid_size) {
  const bool several = p.minimizers.size() > 1;
  std::printf("\n%s: f = %s, from (%g, %g), %d steps\n", p.name, p.formula, p.start.x(),
              p.start.y(), budget);
  std::string head =
      pad("optimizer", kWidths[0]) + pad("settings", kWidths[1]) + pad("final f", kWidths[2]) +
      pad(several ? "to nearest minimizer" : "to x*", kWidths[3] + (several ? 16 : 0)) +
      pad("steps", kWidths[4]) + pad(format("reach/%d", grid_size), kWidths[5]) + "time";
  std::printf("%s\n%s\n", head.c_str(), std::string(head.size() + 4, '-').c_str());
}

void print_row(const Problem& p, const Tuned& t) {
  const Run& r = t.best;
  std::string settings = format("lr=%.3g", r.lr);
  if (*t.method->settings != '\0') settings += std::string(" ") + t.method->settings;
  std::string row = pad(t.method->name, kWidths[0]) + pad(settings, kWidths[1]);
  if (r.diverged) {
    row += "diverges at every lr of the grid";
  } else {
    const bool several = p.minimizers.size() > 1;
    std::string distance = format("%.2e", r.distance);
    if (several) distance += " " + point_text(p.minimizers[r.nearest]);
    row += pad(format("%.2e", r.gap + p.f_min), kWidths[2]) +
           pad(distance, kWidths[3] + (several ? 16 : 0)) + pad(steps_text(r), kWidths[4]) +
           pad(format("%d", t.reached), kWidths[5]) + format("%4.0f µs", r.seconds * 1e6);
  }
  std::printf("%s\n", row.c_str());
}

// ---------------------------------------------------------------------------
// What each table shows. The sentences quote the table's own numbers; they
// were written for the full 5000-step run.

std::string note_valley(const Table& t) {
  return format(
      "The valley's axes are the coordinates, so per-coordinate step sizes undo its 1:20\n"
      "curvature: AdaGrad reaches 1e-6 in %s steps, GradientDescent in %s (Adam %s).\n"
      "Momentum is no faster at its best lr (%s steps) but works over a wider range (%d of %d\n"
      "lrs, GD %d): from lr = 1 on, GD's zig-zag in y, y <- (1 - 2 lr) y, no longer shrinks.",
      steps_text(t["AdaGrad"].best).c_str(), steps_text(t["GradientDescent"].best).c_str(),
      steps_text(t["Adam"].best).c_str(), steps_text(t["Momentum"].best).c_str(),
      t["Momentum"].reached, t.grid_size, t["GradientDescent"].reached);
}

std::string note_rosenbrock(const Table& t) {
  const std::vector<Vec>& path = t["AdaGrad"].best.path;
  const std::size_t n = path.size();
  return format(
      "Along the curved valley momentum and Adam reach 1e-6 (Momentum %s steps, Nesterov %s,\n"
      "Adam %s); GradientDescent ends at f = %.1e. AdaGrad's per-coordinate step lr/sqrt(h)\n"
      "can only shrink: it ends at f = %.1e, its last step %.1e long, its first %.1e.",
      steps_text(t["Momentum"].best).c_str(), steps_text(t["Nesterov"].best).c_str(),
      steps_text(t["Adam"].best).c_str(), t["GradientDescent"].best.gap, t["AdaGrad"].best.gap,
      (path[n - 1] - path[n - 2]).norm(), (path[1] - path[0]).norm());
}

std::string note_beale(const Table& t) {
  const Trial& rms = t["RMSprop"].at(0.01);
  return format(
      "Adam takes %s steps, Momentum %s, GradientDescent %s. RMSprop does not settle: at\n"
      "lr=0.01 its f falls to %.1e by step %ld, then rises to %.1e; its best, lr=%.3g, ends\n"
      "at %.1e.",
      steps_text(t["Adam"].best).c_str(), steps_text(t["Momentum"].best).c_str(),
      steps_text(t["GradientDescent"].best).c_str(), rms.lowest_gap, rms.lowest_step, rms.gap,
      t["RMSprop"].best.lr, t["RMSprop"].best.gap);
}

std::string note_himmelblau(const Table& t) {
  std::string s = format(
      "From near the local maximum (-0.27, -0.92) AdaGrad and Adam first step about lr*sign(g)\n"
      "per coordinate (RMSprop 10*lr*sign(g)), not along g, and need not end where the gradient\n"
      "methods do. In this nearly round basin momentum costs steps: Momentum %s, Nesterov %s,\n"
      "GradientDescent %s. Ends:",
      steps_text(t["Momentum"].best).c_str(), steps_text(t["Nesterov"].best).c_str(),
      steps_text(t["GradientDescent"].best).c_str());
  const Problem& p = *t.problem;
  for (std::size_t i = 0; i < p.minimizers.size(); ++i) {
    std::string names;
    for (const Tuned& row : t.rows) {
      if (row.best.diverged || row.best.nearest != i) continue;
      names += (names.empty() ? "" : ", ") + std::string(row.method->name);
    }
    if (!names.empty()) s += "\n  near " + point_text(p.minimizers[i]) + ": " + names;
  }
  return s;
}

// ---------------------------------------------------------------------------
// The problems: name, formula, f, gradient, start, f*, known minimizers, note,
// and for the figure the x and y ranges shown and the contour levels.

// `per_decade` levels in every decade from lo to hi: lo, lo·10^(1/per_decade), …
std::vector<double> log_levels(double lo, double hi, int per_decade) {
  std::vector<double> levels;
  for (int k = 0; lo * std::pow(10.0, k / double(per_decade)) <= hi * (1 + 1e-9); ++k)
    levels.push_back(lo * std::pow(10.0, k / double(per_decade)));
  return levels;
}

std::vector<Problem> problems() {
  // clang-format off
  return {
      {"Deep valley (lecture)", "x^2/20 + y^2", valley, valley_grad,
       Vec(-7, 2), 0, {Vec(0, 0)}, note_valley,
       {-8, 2}, {-2.5, 2.5}, log_levels(1e-3, 10, 3)},
      {"Rosenbrock", "(1 - x)^2 + 100 (y - x^2)^2", rosenbrock, rosenbrock_grad,
       Vec(-1.5, 2), 0, {Vec(1, 1)}, note_rosenbrock,
       {-2, 2}, {-1, 3}, log_levels(1e-2, 1e3, 2)},
      {"Beale", "sum_k (c_k - x + x y^k)^2, c = (1.5, 2.25, 2.625)", beale, beale_grad,
       Vec(1, 1.5), 0, {Vec(3, 0.5)}, note_beale,
       {-1, 4.5}, {-2, 2}, log_levels(1e-2, 1e3, 2)},
      // Started near its local maximum (-0.27, -0.92).
      {"Himmelblau", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2", himmelblau, himmelblau_grad,
       Vec(-0.3, -0.9), 0, {Vec(3, 2),
                            Vec(-2.805118086952745, 3.131312518250573),
                            Vec(-3.779310253377747, -3.283185991286169),
                            Vec(3.5844283403304917, -1.8481265269644034)}, note_himmelblau,
       {-5, 5}, {-5, 5}, log_levels(1e-1, 1e3, 2)},
  };
  // clang-format on
}

// ---------------------------------------------------------------------------
// The figures: each optimizer's best run, one panel per function.

// Contour levels, ranges and markers are per function; f − f* is shown on
// log axes from step 1 (the start, step 0, has no place on them) and from
// 1e-16 up, where double rounding begins to show.
void write_figures(const std::vector<Table>& tables, const std::filesystem::path& out) {
  const std::string steps = format(", %d steps", tables.at(0).budget);
  plot::Figure paths{"descent tour: the path of each optimizer at its best lr" + steps, {}};
  plot::Figure losses{"descent tour: f − f* at each step, best lr" + steps, {}};
  for (const Table& table : tables) {
    const Problem& p = *table.problem;
    plot::Panel path_panel{p.name, "x", "y", false, p.xrange, p.yrange, {}, {}};
    path_panel.contours =
        plot::Contours{[&p](double x, double y) { return p.f(Vec(x, y)); }, p.levels};
    plot::Panel loss_panel{p.name, "step", "f − f*", true, {}, {}, {}, {}};
    loss_panel.log_x = true;
    loss_panel.xrange = std::pair(1.0, double(table.budget));
    loss_panel.yrange = std::pair(1e-16, 1e4);
    for (const Tuned& row : table.rows) {
      plot::Series path{row.method->name, {}, {}}, loss{row.method->name, {}, {}};
      for (std::size_t t = 0; t < row.best.path.size(); ++t) {
        const Vec& x = row.best.path[t];
        path.x.push_back(x.x());
        path.y.push_back(x.y());
        if (t == 0) continue;
        loss.x.push_back(double(t));
        loss.y.push_back(p.f(x) - p.f_min);
      }
      path_panel.series.push_back(std::move(path));
      loss_panel.series.push_back(std::move(loss));
    }
    path_panel.markers.push_back({"start", p.start.x(), p.start.y(), true});
    for (const Vec& m : p.minimizers) path_panel.markers.push_back({"minimizer", m.x(), m.y()});
    paths.panels.push_back(std::move(path_panel));
    losses.panels.push_back(std::move(loss_panel));
  }
  plot::write_svg(paths, (out / "tour.svg").string());
  plot::write_svg(losses, (out / "tour_loss.svg").string());
}

// --all, last: full-batch L-BFGS (strong Wolfe, torch's defaults: lr 1, up to
// 20 iterations per step()) from each function's start, until f − f* <
// kTolerance, a step() that changes nothing, or as many function evaluations
// as the first-order optimizers get steps.
void lbfgs_table(const std::vector<Problem>& problems, int budget) {
  std::printf(
      "\nL-BFGS (LBFGS<double>, line_search StrongWolfe, torch's defaults), from the same "
      "starts:\n%-24s%-12s%-24s%-14s%s\n%s\n",
      "function", "final f", "to nearest minimizer", "evaluations", "step() calls",
      std::string(84, '-').c_str());
  for (const Problem& p : problems) {
    descent::LBFGS<double>::Options options;
    options.line_search = descent::LineSearch::StrongWolfe;
    descent::LBFGS<double> lbfgs(options);
    Vec x = p.start;
    const auto f = [&p](const Eigen::VectorXd& at, Eigen::VectorXd& grad) {
      const Vec point = at;
      grad = p.grad(point);
      return p.f(point);
    };
    long calls = 0;
    while (p.f(x) - p.f_min >= kTolerance && lbfgs.function_evaluations() < budget) {
      const Vec before = x;
      lbfgs.step(x, f);
      ++calls;
      if (x == before) break;  // converged to its tolerances elsewhere
    }
    double distance = std::numeric_limits<double>::infinity();
    for (const Vec& m : p.minimizers) distance = std::min(distance, (x - m).norm());
    std::printf("%-24s%-12.2e%-24.2e%-14lld%ld\n", p.name, p.f(x), distance,
                static_cast<long long>(lbfgs.function_evaluations()), calls);
  }
}

}  // namespace

constexpr const char* kUsageText =
    "usage: tour [--quick] [--all] [--out DIR] [--optimizer NAME [--opt KEY=VALUE]...] [--help]\n"
    "  --quick             300 steps per run instead of 5000, no commentary\n"
    "  --all               every optimizer (each with its defaults after the lecture's),\n"
    "                      then full-batch L-BFGS on each function\n"
    "  --out DIR           write tour.svg and tour_loss.svg into DIR (default: .)\n"
    "  --optimizer NAME    run only this optimizer: one of descent::optimizer_names()\n"
    "                      (printed below) or a class name\n"
    "  --opt KEY=VALUE     one of its options (repeatable), e.g. --opt beta1=0.8,\n"
    "                      --opt profile=pytorch; the lr is the best of the grid unless\n"
    "                      --opt lr=VALUE fixes it\n";

/// The usage text, with the optimizer names make_optimizer knows.
std::string usage() {
  std::string text = std::string(kUsageText) + "optimizers:";
  for (const std::string& name : descent::optimizer_names()) text += " " + name;
  return text + "\n";
}

int main(int argc, char** argv) {
  bool quick = false;
  bool all = false;
  std::filesystem::path out = ".";
  std::string chosen;                          // --optimizer
  std::map<std::string, std::string> options;  // --opt
  const auto usage_error = [](const std::string& what) {
    std::fprintf(stderr, "tour: %s\n%s", what.c_str(), usage().c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--all") {
      all = true;
    } else if (arg == "--help" || arg == "-h") {
      std::printf("%s", usage().c_str());
      return 0;
    } else if (arg == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (arg == "--optimizer" && i + 1 < argc) {
      chosen = argv[++i];
    } else if (arg == "--opt" && i + 1 < argc) {
      const std::string wrong = example::add_option(options, argv[++i]);
      if (!wrong.empty()) return usage_error(wrong);
    } else {
      return usage_error("unknown argument or missing value: '" + std::string(arg) + "'");
    }
  }
  if (!options.empty() && chosen.empty()) return usage_error("--opt needs --optimizer");
  if (all && !chosen.empty()) return usage_error("--all and --optimizer exclude each other");
  const int budget = quick ? 300 : 5000;

  const std::vector<Problem> test_functions = problems();
  std::vector<Method> optimizers = all ? all_methods() : methods();
  std::vector<double> grid = lr_grid();

  // --optimizer: that one only, built by name; a bad name, key or value is
  // refused here with the library's message.
  std::string chosen_name, chosen_settings;
  if (!chosen.empty()) {
    std::unique_ptr<Optimizer> probe;
    try {
      probe = descent::make_optimizer<double>(chosen, options);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "tour: %s\n", e.what());
      return 2;
    }
    chosen_name = probe->name();
    for (const auto& [key, value] : options) {
      if (key == "lr") continue;
      chosen_settings += (chosen_settings.empty() ? "" : " ") + key + "=" + value;
    }
    if (options.count("lr") != 0) grid = {probe->lr()};
    optimizers = {{chosen_name.c_str(), chosen_settings.c_str(), [chosen, options](double lr) {
                     std::unique_ptr<Optimizer> optimizer =
                         descent::make_optimizer<double>(chosen, options);
                     optimizer->set_lr(lr);
                     return optimizer;
                   }}};
  }
  const bool compare = chosen.empty();  // every optimizer, with the commentary

  if (compare) {
    std::printf(
        "descent tour: %s from the same start, %d steps per run.\n"
        "lr: per function and optimizer, the best of the grid 10^(k/4), 1e-4 <= lr <= 10: "
        "fewest\n"
        "  steps to reach f - f* < %g, else lowest final f. Other options as listed, else "
        "defaults.\n"
        "steps: the step from which on f - f* < %g (– never); reach: grid lrs that get there;\n"
        "time: the whole run shown, f and gradient included (in 2-D, mostly per-step "
        "overhead).\n"
        "SGD momentum=0.9 (Keras's form v <- 0.9 v - lr g) makes the same steps as Momentum "
        "(the\n"
        "lecture's) at 10 times the lr; their reach differs only at the ends of the grid.\n",
        all ? "every optimizer" : "the lecture's optimizers", budget, kTolerance, kTolerance);
  } else {
    std::printf(
        "descent tour: %s from the same starts, %d steps per run.\n"
        "lr: %s;\n"
        "  other options as listed, else the class's defaults.\n"
        "steps: the step from which on f - f* < %g (– never); reach: grid lrs that get there.\n",
        chosen_name.c_str(), budget,
        grid.size() == 1 ? "as given"
                         : "per function, the best of the grid 10^(k/4), 1e-4 <= lr <= 10",
        kTolerance);
  }

  std::vector<Table> tables;
  for (const Problem& problem : test_functions) {
    Table& table = tables.emplace_back(Table{&problem, budget, int(grid.size()), {}});
    for (const Method& method : optimizers)
      table.rows.push_back(tune(problem, method, grid, budget));

    print_header(problem, budget, table.grid_size);
    for (const Tuned& row : table.rows) print_row(problem, row);
    if (!compare) {
      std::printf("(--optimizer: the commentary, which compares the optimizers, is left out)\n");
    } else if (quick) {
      std::printf("(--quick: the commentary, written for the full run, is left out)\n");
    } else {
      std::printf("%s\n", problem.note(table).c_str());
    }
  }

  if (all) lbfgs_table(test_functions, budget);

  try {
    std::filesystem::create_directories(out);
    write_figures(tables, out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tour: %s\n", e.what());
    return 1;
  }
  std::printf("\nFigures: %s (paths over contour lines), %s (f - f* by step)\n",
              (out / "tour.svg").string().c_str(), (out / "tour_loss.svg").string().c_str());
  return 0;
}
