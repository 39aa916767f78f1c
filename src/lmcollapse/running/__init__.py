"""One run: its parts built from the config (parts), the loop (loop), its directory (rundir, manifest,
readback), and what surrounds it (provenance, progress, stop signals)."""
