"""One recognizer per construct of a raw PyTorch loop (device moves, optimizer steps, schedulers, AMP, ...)."""
