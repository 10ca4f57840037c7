//! With the `mpi` feature: compiles the one-line C shim that gives `MPI_IN_PLACE`, against the
//! MPI headers rsmpi's own build found.

fn main() {
    #[cfg(feature = "mpi")]
    {
        println!("cargo:rerun-if-changed=src/mpi_shim.c");
        let library = build_probe_mpi::probe().unwrap_or_else(|errors| {
            panic!(
                "the `mpi` feature needs an MPI library with its headers (Debian: libopenmpi-dev openmpi-bin libclang-dev): {errors:?}"
            )
        });
        cc::Build::new()
            .file("src/mpi_shim.c")
            .includes(&library.include_paths)
            .compile("tapegrad_mpi_shim");
    }
}
