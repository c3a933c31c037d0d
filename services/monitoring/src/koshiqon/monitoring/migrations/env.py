from koshiqon.common.migrations import run_env
from koshiqon.monitoring.adapters.tables import metadata

run_env(metadata, schema="monitoring")
