"""Recorded events processed off the live path: a file's lines or a topic's records through the
one replay pipeline (`engine.replay`), with their rejects (`records`), the whole-file replay and
its KPI and status outputs (`file`), and the temporary store long runs park idle tickets and
alerts in (`spill`). `cli/` (replay, explain, whatif, accountability, audit) and `bench/` use it;
it imports neither."""
