"""The repositories of the registration service, one module per aggregate: rows in, domain
objects out; nothing commits (the unit of work does).

They run on the unit of work's SQLAlchemy Core connection (`text()` statements), except the
residence-registration write path, which runs plain SQL on the driver connection of the same
transaction (`SqlUnitOfWork.driver`): it is the service's busiest request, a handful of
short statements, where bench/registration_api.py shows the driver's lower CPU per
statement paying off (the person's lock, the stays it concerns, ending and inserting
residences, completing an approved application; `persons`, `residences` and `applications`
say which of their methods). The tables are declared in `../tables.py` and created by the Alembic
revisions. Uniqueness is SQL's job (unique partial indexes): a violation becomes the domain
`Conflict` naming the field, and the transaction it aborted is rolled back by the unit of
work.
"""

from koshiqon.registration.adapters.repository.applications import ApplicationRepository
from koshiqon.registration.adapters.repository.audit import AuditRepository
from koshiqon.registration.adapters.repository.persons import PersonRepository
from koshiqon.registration.adapters.repository.residences import ResidenceRepository

__all__ = ["ApplicationRepository", "AuditRepository", "PersonRepository", "ResidenceRepository"]
