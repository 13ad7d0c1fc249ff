// save_file: the temporary it writes beside the checkpoint, the user's files
// and permissions it keeps, and its atomicity: saves that race each other,
// and a save killed at any moment, leave the old or the new checkpoint whole.
// (A file of its own: the ThreadSanitizer preset builds it.)

#include "folder.hpp"
#include "support.hpp"

#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <descent/descent.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

using support::bytes_of;
using support::Folder;
using support::write_file;

TEST_CASE("save_file: a unique temporary, and the user's files and permissions are kept",
          "[hostile][save_file]") {
  Folder folder;
  const std::string path = folder / "run.ckpt";
  write_file(path + ".tmp", "mine");  // the old fixed temporary name
  descent::Adam<float> adam;
  Eigen::VectorXf x = Eigen::VectorXf::Ones(3);
  adam.step(x, x);
  adam.save_file(path);
  std::ifstream mine(path + ".tmp");
  std::string text;
  mine >> text;
  CHECK(text == "mine");

  const mode_t mask = ::umask(022);
  ::umask(mask);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == (0666 & ~mask));
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  adam.step(x, x);
  adam.save_file(path);
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  descent::Adam<float> loaded;
  loaded.load_file(path);
  CHECK(bytes_of(loaded) == bytes_of(adam));
  CHECK(folder.files() == std::vector<std::string>{"run.ckpt", "run.ckpt.tmp"});
}

TEST_CASE("save_file: concurrent saves to one path all succeed and readers see whole checkpoints",
          "[hostile][save_file]") {
  Folder folder;
  const std::string path = folder / "shared.ckpt";
  constexpr int kWriters = 4, kSaves = 40;
  std::vector<descent::Adam<double>> states;
  states.reserve(kWriters);
  std::set<std::string> valid;
  for (int w = 0; w < kWriters; ++w) {
    descent::Adam<double>::Options o;
    o.lr = 0.001 * (w + 1);
    states.emplace_back(o);
    Eigen::VectorXd x = Eigen::VectorXd::Constant(2000, double(w));
    states.back().step(x, x);
    valid.insert(bytes_of(states.back()));
  }
  states[0].save_file(path);

  std::atomic<int> failures{0}, writers_done{0}, reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int k = 0; k < kSaves; ++k) {
        try {
          states[std::size_t(w)].save_file(path);
        } catch (const std::exception&) {
          ++failures;
        }
      }
      ++writers_done;
    });
  }
  std::atomic<int> torn{0};
  threads.emplace_back([&] {
    while (writers_done < kWriters || reads < 10) {
      descent::Adam<double> reader;
      try {
        reader.load_file(path);
        if (valid.count(bytes_of(reader)) == 0) ++torn;
      } catch (const std::exception&) {
        ++torn;
      }
      ++reads;
    }
  });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(torn == 0);
  CHECK(reads >= 10);
  CHECK(folder.files() == std::vector<std::string>{"shared.ckpt"});
}

TEST_CASE("save_file: a save killed at any moment leaves the old or the new checkpoint",
          "[hostile][save_file][long]") {
  Folder folder;
  const std::string path = folder / "killed.ckpt";
  descent::Adam<double> a({0.01}), b({0.02});
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(20000, -1, 1);  // 480 KB checkpoints
  a.step(x, x);
  b.step(x, x);
  const std::set<std::string> valid{bytes_of(a), bytes_of(b)};
  a.save_file(path);
  // Kills at a uniform time within two saves' time of the first save's end,
  // so that kills land mid-save however fast saves run here (a sanitizer
  // makes them several times slower). A kill before the temporary exists
  // (while the bytes are formed) or after the rename interrupts nothing: 35%
  // of the kills land mid-save in a release build, 12% under ASan, fewer on
  // a loaded machine. So it kills at least kMinKills times and on until
  // kWanted kills interrupted a save, up to kMaxKills.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) b.save_file(path);
  const auto save_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count() /
                       5;
  a.save_file(path);

  std::mt19937 random(12345);
  constexpr int kMinKills = 200, kWanted = 10, kMaxKills = 2000;
  int kills = 0, complete = 0, interrupted = 0;
  for (; kills < kMaxKills && (kills < kMinKills || interrupted < kWanted); ++kills) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // saves b and a in turn until killed, saying so after the first
      ::close(ready[0]);
      b.save_file(path);
      if (::write(ready[1], "1", 1) != 1) ::_exit(1);
      for (int i = 0;; ++i) (i % 2 ? b : a).save_file(path);
    }
    ::close(ready[1]);
    char byte = 0;
    REQUIRE(::read(ready[0], &byte, 1) == 1);
    ::close(ready[0]);
    ::usleep(std::uniform_int_distribution<unsigned>(0, unsigned(2 * save_us))(random));
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));
    descent::Adam<double> reader;
    reader.load_file(path);
    complete += valid.count(bytes_of(reader)) == 1;
    for (const std::string& f : folder.files()) {  // the killed save's temporary
      if (f != "killed.ckpt") {
        ++interrupted;
        std::remove((folder / f).c_str());
      }
    }
  }
  CHECK(complete == kills);
  INFO(interrupted << " of " << kills << " kills interrupted a save of " << save_us << " us");
  CHECK(interrupted >= kWanted);
}
