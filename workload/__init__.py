"""Seeded ticket workloads and the demo's traffic: imported by cli/, topologies/, bench/, tests."""

from workload.tickets import generate, lines, stream, ticket_events

__all__ = ["generate", "lines", "stream", "ticket_events"]
