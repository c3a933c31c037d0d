"""The read path over the engine, for reads that write nothing: none in registration today.

Every read route of this service reads personal data (persons, their residences, their
resettlement applications, who read them), and a read of personal data writes its audit
row in the same transaction; so each is a command through the bus (`domain.commands`,
`Read`), not a query. A read without personal data (counts, reference data) belongs here:
an `async def` over the engine that a GET route calls directly.
"""

from __future__ import annotations
