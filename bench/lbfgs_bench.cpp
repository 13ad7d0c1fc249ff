// descent::LBFGS with the strong-Wolfe line search against libLBFGS (Naoaki
// Okazaki's C library, Debian's liblbfgs-dev, with its default More-Thuente
// line search) on the same problems, with the same function code and the
// same history size (10): how many evaluations of the function, and how much
// time, until the first evaluation whose gradient has a Euclidean norm of at
// most 1e-8. descent runs twice: with torch's min_curvature 1e-10 and with 0.
//
//   lbfgs_bench [--data PATH] [--repeat N]
//
// Neither library stops on that criterion by itself (descent's
// tolerance_grad is torch's max|g|; libLBFGS's epsilon is relative to
// max(1, ‖x‖)), so both run with their own stopping tests off and the
// function, which counts its calls, notes the first one that reaches it;
// descent's run then ends by an exception from the function, libLBFGS's at
// its next progress callback (the point its line search accepted, which is
// the point it evaluated last). Times are the median of --repeat runs
// (default 7), wall clock, the evaluations' own cost included.
//
// Problems (x0 as in tools/make_lbfgs_reference.py): Rosenbrock in 2-D from
// (-1.2, 1); extended Rosenbrock in 100 and 10 000 dimensions from
// x[2i] = -1.2 + 0.01·(i mod 50), x[2i+1] = 1 - 0.005·(i mod 50); multinomial
// logistic regression on all 1797 UCI digits (features / 16, 10 classes, 650
// parameters, L2 penalty 1e-3/2·‖W‖²) from zero.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <descent/lbfgs.hpp>
#include <lbfgs.h>
#include <zlib.h>

namespace {

using Vector = Eigen::VectorXd;
using Matrix = Eigen::MatrixXd;
using Clock = std::chrono::steady_clock;
constexpr double kTarget = 1e-8;
constexpr int kHistory = 10;

/// f(x) and its gradient g, both of n doubles.
using Function = std::function<double(const double* x, double* g, Eigen::Index n)>;

double rosenbrock(const double* x, double* g, Eigen::Index n) {
  double f = 0;
  for (Eigen::Index i = 0; i + 1 < n; i += 2) {
    const double a = x[i], b = x[i + 1];
    const double r1 = b - a * a, r2 = 1 - a;
    f += 100 * r1 * r1 + r2 * r2;
    g[i] = -400 * a * r1 - 2 * r2;
    g[i + 1] = 200 * r1;
  }
  return f;
}

Vector rosenbrock_start(Eigen::Index n) {
  Vector x(n);
  if (n == 2) {
    x << -1.2, 1.0;
    return x;
  }
  for (Eigen::Index i = 0; i < n / 2; ++i) {
    x[2 * i] = -1.2 + 0.01 * double(i % 50);
    x[2 * i + 1] = 1.0 - 0.005 * double(i % 50);
  }
  return x;
}

/// Softmax regression: W (10 × 64, row-major) then b (10).
struct Logistic {
  Matrix X;  // 64 × samples
  Matrix Y;  // 10 × samples, one-hot
  double lambda = 1e-3;

  double operator()(const double* x, double* g, Eigen::Index) const {
    using RowMajor = Eigen::Matrix<double, 10, 64, Eigen::RowMajor>;
    const Eigen::Map<const RowMajor> W(x);
    const Eigen::Map<const Eigen::Matrix<double, 10, 1>> b(x + 640);
    const double n = double(X.cols());
    Matrix z = W * X;
    z.colwise() += b;
    const Eigen::RowVectorXd m = z.colwise().maxCoeff();
    z.rowwise() -= m;
    const Matrix e = z.array().exp().matrix();
    const Eigen::RowVectorXd s = e.colwise().sum();
    const double picked = (z.cwiseProduct(Y)).sum() - s.array().log().sum();
    const double f = -picked / n + 0.5 * lambda * W.squaredNorm();
    const Matrix D = ((e.array().rowwise() / s.array()).matrix() - Y) / n;
    Eigen::Map<RowMajor> gW(g);
    Eigen::Map<Eigen::Matrix<double, 10, 1>> gb(g + 640);
    gW = D * X.transpose() + lambda * W;
    gb = D.rowwise().sum();
    return f;
  }
};

Logistic load_digits(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<int>> rows;
  char line[1024];
  while (gzgets(file, line, sizeof line) != nullptr) {
    std::vector<int> row;
    std::stringstream in(line);
    std::string cell;
    while (std::getline(in, cell, ',')) row.push_back(std::atoi(cell.c_str()));
    if (row.size() == 65) rows.push_back(row);
  }
  gzclose(file);
  Logistic problem;
  const auto n = Eigen::Index(rows.size());
  problem.X.resize(64, n);
  problem.Y = Matrix::Zero(10, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (int j = 0; j < 64; ++j) problem.X(j, i) = rows[std::size_t(i)][std::size_t(j)] / 16.0;
    problem.Y(rows[std::size_t(i)][64], i) = 1;
  }
  return problem;
}

/// One run's outcome.
struct Outcome {
  long evals = 0;      // evaluations up to the first with ‖g‖ <= kTarget
  double seconds = 0;  // until then
  bool reached = false;
  double gnorm = 0;  // the smallest ‖g‖ seen, if not reached
  std::string note;
};

/// Counts the calls of a function and notes the first that reaches kTarget.
struct Counter {
  const Function* f;
  Clock::time_point start;
  Outcome out;
  double operator()(const double* x, double* g, Eigen::Index n) {
    const double value = (*f)(x, g, n);
    ++out.evals;
    const double gnorm = Eigen::Map<const Vector>(g, n).norm();
    if (!out.reached) {
      out.gnorm = out.evals == 1 ? gnorm : std::min(out.gnorm, gnorm);
      if (gnorm <= kTarget) {
        out.reached = true;
        out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      }
    }
    return value;
  }
};

struct Reached {};

Outcome run_descent(const Function& f, const Vector& x0, double min_curvature) {
  descent::LBFGS<double>::Options o;
  o.min_curvature = min_curvature;
  o.line_search = descent::LineSearch::StrongWolfe;
  o.history_size = kHistory;
  o.max_iter = 1000;
  o.tolerance_grad = 0;
  o.tolerance_change = 0;
  descent::LBFGS<double> opt(o);
  Vector x = x0;
  Counter counter{&f, Clock::now(), {}};
  const auto closure = [&counter](const Vector& p, Vector& g) {
    const double value = counter(p.data(), g.data(), p.size());
    if (counter.out.reached) throw Reached{};
    return value;
  };
  try {
    // A step() ends early when the direction stops descending; the next one
    // starts again from the history. 200 steps without reaching the target
    // count as a failure.
    for (int k = 0; k < 200; ++k) opt.step(x, closure);
    counter.out.note = "not reached in 200 step() calls";
  } catch (const Reached&) {
  }
  return counter.out;
}

int progress(void* instance, const lbfgsfloatval_t*, const lbfgsfloatval_t*, lbfgsfloatval_t,
             lbfgsfloatval_t, lbfgsfloatval_t, lbfgsfloatval_t, int, int, int) {
  return static_cast<Counter*>(instance)->out.reached ? 1 : 0;
}

lbfgsfloatval_t evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, int n,
                         lbfgsfloatval_t) {
  return (*static_cast<Counter*>(instance))(x, g, n);
}

Outcome run_liblbfgs(const Function& f, const Vector& x0) {
  const int n = int(x0.size());
  lbfgsfloatval_t* x = lbfgs_malloc(n);
  std::copy(x0.data(), x0.data() + n, x);
  lbfgs_parameter_t param;
  lbfgs_parameter_init(&param);  // More-Thuente line search, the default
  param.m = kHistory;
  param.epsilon = 0;
  param.past = 0;
  param.max_iterations = 0;
  Counter counter{&f, Clock::now(), {}};
  lbfgsfloatval_t fx = 0;
  const int status = lbfgs(n, x, &fx, evaluate, progress, &counter, &param);
  lbfgs_free(x);
  if (!counter.out.reached) counter.out.note = "stopped with status " + std::to_string(status);
  return counter.out;
}

/// The first outcome, with the median time of `repeat` runs.
template <typename Run>
Outcome timed(Run&& run, int repeat) {
  std::vector<double> times;
  Outcome first;
  for (int k = 0; k < repeat; ++k) {
    const Outcome o = run();
    if (k == 0) first = o;
    times.push_back(o.seconds);
  }
  std::sort(times.begin(), times.end());
  first.seconds = times[times.size() / 2];
  return first;
}

std::string cell(const Outcome& o) {
  char text[160];
  if (o.reached) {
    std::snprintf(text, sizeof text, "%ld | %.3g ms", o.evals, o.seconds * 1e3);
  } else {
    std::snprintf(text, sizeof text, "— (%s; smallest ‖g‖ %.2g after %ld) | —", o.note.c_str(),
                  o.gnorm, o.evals);
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = DESCENT_DIGITS_CSV;
  int repeat = 7;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--data digits.csv.gz] [--repeat N]\n", argv[0]);
      return 2;
    }
  }
  const Logistic digits = load_digits(data);
  struct Problem {
    const char* name;
    Function f;
    Vector x0;
  };
  const std::vector<Problem> problems = {
      {"Rosenbrock, 2-D", rosenbrock, rosenbrock_start(2)},
      {"extended Rosenbrock, 100-D", rosenbrock, rosenbrock_start(100)},
      {"extended Rosenbrock, 10 000-D", rosenbrock, rosenbrock_start(10000)},
      {"logistic regression, digits (1797 × 64, 650 parameters)", digits, Vector::Zero(650)},
  };
  std::printf("History %d; evaluations and time until ‖g‖₂ <= %g (median of %d runs).\n\n",
              kHistory, kTarget, repeat);
  std::printf(
      "| problem | descent evals | time | descent, min_curvature 0: evals | time | "
      "libLBFGS evals | time |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Problem& p : problems) {
    const Outcome d = timed([&] { return run_descent(p.f, p.x0, 1e-10); }, repeat);
    const Outcome d0 = timed([&] { return run_descent(p.f, p.x0, 0.0); }, repeat);
    const Outcome l = timed([&] { return run_liblbfgs(p.f, p.x0); }, repeat);
    std::printf("| %s | %s | %s | %s |\n", p.name, cell(d).c_str(), cell(d0).c_str(),
                cell(l).c_str());
  }
  return 0;
}
