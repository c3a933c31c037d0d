from koshiqon.common.migrations import run_env
from koshiqon.registration.adapters.tables import metadata

run_env(metadata, schema="registration")
