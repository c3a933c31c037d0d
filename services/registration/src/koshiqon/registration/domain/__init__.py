"""The registration domain: persons, residence registrations, resettlement applications."""
