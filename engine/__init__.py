"""Pure, deterministic SLA logic: no Kafka, no clock reads, no I/O."""
