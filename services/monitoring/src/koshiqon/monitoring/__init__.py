"""Koshi-qon monitoring service: projections of every event stream, statistical inputs, the
§5 indicators, the §8 outflow alert and the §9 forecast."""
