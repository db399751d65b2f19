"""Benchmarks: commands that print numbers (`sla-engine bench ...` wires them in cli/bench.py)."""
