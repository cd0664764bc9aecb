"""Feature extractors (networks, weights, devices): the I/O side of the metrics."""
