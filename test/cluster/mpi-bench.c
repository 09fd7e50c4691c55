/* mpi-bench of the carina MPI test images (see test/cluster/images.sh) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

/* pingpong: seconds per round trip of len bytes between ranks 0 and 1 */
static double pingpong(char *buf, int len, int iters, int rank) {
	double t0 = 0;
	for (int i = -iters / 10; i < iters; i++) {
		if (i == 0)
			t0 = MPI_Wtime();
		if (rank == 0) {
			MPI_Send(buf, len, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
			MPI_Recv(buf, len, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		} else if (rank == 1) {
			MPI_Recv(buf, len, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
			MPI_Send(buf, len, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
		}
	}
	return (MPI_Wtime() - t0) / iters;
}

int main(int argc, char **argv) {
	enum { big = 4 << 20 };
	int rank, size, iters = 2000;
	double lat, bw, t0, ar, in[8] = {0}, out[8];
	char *buf = malloc(big);

	if (buf == NULL || MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 2;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size < 2) {
		fprintf(stderr, "mpi-bench: needs two ranks or more\n");
		MPI_Abort(MPI_COMM_WORLD, 2);
	}
	lat = pingpong(buf, 8, 10000, rank) / 2 * 1e6;
	bw = 2.0 * big / pingpong(buf, big, 100, rank) / 1e6;
	MPI_Barrier(MPI_COMM_WORLD);
	for (int i = -100; i < iters; i++) {
		if (i == 0)
			t0 = MPI_Wtime();
		in[0] = rank;
		MPI_Allreduce(in, out, 8, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	}
	ar = (MPI_Wtime() - t0) / iters * 1e6;
	if (rank == 0)
		printf("latency_us=%.2f bandwidth_MBps=%.0f allreduce_us=%.2f size=%d\n", lat, bw, ar, size);
	fflush(stdout);
	free(buf);
	MPI_Finalize();
	return 0;
}
