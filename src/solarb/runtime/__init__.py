"""The one wiring for live, sim and replay: clock, node (pipeline), supervisor."""
