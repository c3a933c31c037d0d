from koshiqon.common.migrations import run_env
from koshiqon.proposals.adapters.tables import metadata

run_env(metadata, schema="proposals")
