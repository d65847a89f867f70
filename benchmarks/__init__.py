"""The kit's benchmarks, run from the repository root as modules (`make bench-el`, `bench-scale`,
`bench-stack`: python -m benchmarks.<name>); harness.py holds what they share."""
