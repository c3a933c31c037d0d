from koshiqon.common.migrations import run_env
from koshiqon.quota.adapters.tables import metadata

run_env(metadata, schema="quota")
