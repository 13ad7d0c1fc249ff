// The MPI tests' session: Catch2's own main runs the tests on every rank,
// and this listener brackets the run with MPI_Init_thread and MPI_Finalize.
// A failure on a rank ends every rank (MPI_Abort) once the section it
// failed in ends, its report written: the other ranks may be waiting in a
// collective the failed one never reaches, and would otherwise wait until
// the ctest TIMEOUT. mpiexec then exits non-zero.

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // the listener interface
#include <cstdio>
#include <iostream>

#include <catch2/catch.hpp>
#include <mpi.h>

namespace {

struct MpiSession : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  void testRunStarting(const Catch::TestRunInfo& info) override {
    TestEventListenerBase::testRunStarting(info);
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }

  // The reporter writes a failed assertion as it ends; the section's end
  // comes after.
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    failed_ = failed_ || !stats.assertionResult.isOk();
    return TestEventListenerBase::assertionEnded(stats);
  }

  void sectionEnded(const Catch::SectionStats& stats) override {
    TestEventListenerBase::sectionEnded(stats);
    if (!failed_) return;
    std::cout.flush();
    std::cerr << "descent_mpi_tests: a check failed on this rank (above); ending every rank"
              << std::endl;
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  void testRunEnded(const Catch::TestRunStats& stats) override {
    MPI_Finalize();
    TestEventListenerBase::testRunEnded(stats);
  }

 private:
  bool failed_ = false;
};

}  // namespace

CATCH_REGISTER_LISTENER(MpiSession)
