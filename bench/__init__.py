"""Benchmarks that run the same workloads against ParseQL and Parse Server 9.10.0 and print ratios."""
