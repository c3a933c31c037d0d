"""The monitoring service's domain: periods, statistical inputs and their checks, the
projections of the event streams, the indicators' formulas and the §8 outflow rule."""
