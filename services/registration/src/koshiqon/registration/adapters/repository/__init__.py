"""Every query of the registration service, one module per aggregate. Rows in, domain objects
out; nothing commits.

The queries are plain SQL on the asyncpg connection of the unit of work's transaction
(`koshiqon.common.database`): the request path is a few short statements, where the driver
costs a third of SQLAlchemy's CPU. The tables themselves are declared in `../tables.py` and
created by the Alembic revisions. Uniqueness is SQL's job (unique partial indexes): a
violation becomes the domain `Conflict` naming the field, and the transaction it aborted is
rolled back by the unit of work.
"""

from koshiqon.registration.adapters.repository.applications import ApplicationRepository
from koshiqon.registration.adapters.repository.audit import AuditRepository
from koshiqon.registration.adapters.repository.persons import PersonRepository
from koshiqon.registration.adapters.repository.residences import ResidenceRepository

__all__ = ["ApplicationRepository", "AuditRepository", "PersonRepository", "ResidenceRepository"]
