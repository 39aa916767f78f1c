"""What the runs mean: per-generation aggregation over seeds, early warning, verdicts, statistics and the
HTML report."""
