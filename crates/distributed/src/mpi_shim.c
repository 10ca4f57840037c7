/* MPI_IN_PLACE is a macro whose value differs between MPI libraries (Open MPI: (void *) 1,
   MPICH: (void *) -1), and rsmpi does not export it; this asks the library's own header. */
#include <mpi.h>

void *tapegrad_mpi_in_place(void) { return MPI_IN_PLACE; }
