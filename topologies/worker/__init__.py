"""The live worker's work: `task.TicketTask` (events, ticks, timers) and `kpi_task.KpiTask`
(KPI facts), testable without Faust; the state of the owned partitions; the one batch loop
the Faust agents of `topologies.app` run."""
