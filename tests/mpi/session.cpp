// The MPI tests' session: Catch2's own main runs the tests on every rank,
// and this listener brackets the run with MPI_Init_thread and MPI_Finalize.
// A failure on any rank makes that rank, and so mpiexec, exit non-zero; a
// rank left waiting by a bug is ended by the ctest TIMEOUT.

#define CATCH_CONFIG_EXTERNAL_INTERFACES  // the listener interface
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

  void testRunEnded(const Catch::TestRunStats& stats) override {
    MPI_Finalize();
    TestEventListenerBase::testRunEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(MpiSession)
