"""`koshiqon stack up|down|status|logs`: the whole system on one machine, as Kubernetes runs
it (an api and a worker process per service), under a small supervisor that restarts a
process that dies, with monitoring's reference figures and a reproducible demo data set
loaded through the public APIs."""
