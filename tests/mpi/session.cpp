// The MPI tests' main: every rank runs the same Catch2 session between
// MPI_Init_thread and MPI_Finalize. A failure on any rank makes that rank,
// and so mpiexec, exit non-zero; a rank left waiting by a bug is ended by the
// ctest TIMEOUT.

#define CATCH_CONFIG_RUNNER
#include <cstdio>
#include <cstring>

#include <catch2/catch.hpp>
#include <mpi.h>

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  // Test discovery lists the test names once, from rank 0.
  for (int i = 1; i < argc; ++i) {
    if (rank != 0 && std::strncmp(argv[i], "--list", 6) == 0) {
      if (std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
    }
  }
  const int failed = Catch::Session().run(argc, argv);
  MPI_Finalize();
  return failed;
}
