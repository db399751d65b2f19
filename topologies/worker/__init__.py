"""The live worker's work, apart from Faust: `task.TicketTask` (events, ticks, timers),
`kpi_task.KpiTask` (KPI facts), the state of the owned partitions and the one batch loop."""
