"""The API's request and response bodies (the third shape, next to the tables and the wire
events). Syntax is checked here (422 with field paths); domain rules in the domain."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from koshiqon.common.events.registration import (
    EndReason,
    LegalStatus,
    ResettlementCategory,
    ResidenceKind,
    StayPurpose,
)
from koshiqon.common.http.text import TextInput
from koshiqon.common.kz import Sex
from koshiqon.registration.domain.model import (
    AuditEntry,
    KandasStatus,
    Person,
    Residence,
    ResidenceStatus,
    TravelDocument,
)
from koshiqon.registration.domain.names import CYRILLIC_NAME, LATIN_NAME, MAX_NAME
from koshiqon.registration.domain.resettlement import ApplicationStatus, ResettlementApplication

IINText = Annotated[str, Field(pattern=r"^[0-9]{12}$", examples=["791028302728"])]
Country = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 3166-1 alpha-3")]
KATOText = Annotated[
    str, Field(pattern=r"^[0-9]{9}$", description="9-digit KATO code", examples=["590000000"])
]
LatinName = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=LATIN_NAME)]
CyrillicName = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=CYRILLIC_NAME)]
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
ShortText = Annotated[str, Field(min_length=1, max_length=50, pattern=r"\S")]
Date = Annotated[date, Field(ge=date(1800, 1, 1), le=date(2999, 12, 31))]


class Strict(TextInput):
    model_config = ConfigDict(extra="forbid")


# --- persons -------------------------------------------------------------------------------


class TravelDocumentIn(Strict):
    number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Z0-9]+$")
    country: Country


class KandasIn(Strict):
    certificate_number: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-/]+$")
    certificate_date: Date


class PersonIn(Strict):
    legal_status: LegalStatus
    iin: IINText | None = Field(default=None, description="required for citizens")
    travel_document: TravelDocumentIn | None = Field(
        default=None, description="identifies a foreigner or stateless person without an IIN"
    )
    surname_latin: LatinName = Field(
        description="in the Latin script, diacritics included (`Ayşe`, `Şyñğys`)"
    )
    given_names_latin: LatinName
    surname_cyrillic: CyrillicName | None = Field(
        default=None,
        description="required for citizens; a foreigner's or stateless person's documents"
        " may carry none (then neither Cyrillic field is given)",
    )
    given_names_cyrillic: CyrillicName | None = Field(
        default=None, description="required for citizens, like surname_cyrillic"
    )
    birth_date: Date
    sex: Sex
    citizenship: Country | None = Field(default=None, description="KAZ for citizens")
    ethnicity: str | None = Field(
        default=None, min_length=1, max_length=100, description="used only in aggregate statistics"
    )
    kandas: KandasIn | None = None

    def travel_document_value(self) -> TravelDocument | None:
        doc = self.travel_document
        return TravelDocument(number=doc.number, country=doc.country) if doc else None

    def kandas_value(self) -> KandasStatus | None:
        k = self.kandas
        return KandasStatus(k.certificate_number, k.certificate_date) if k else None


class PersonOut(BaseModel):
    id: uuid.UUID
    legal_status: LegalStatus
    iin: str | None
    travel_document: TravelDocumentIn | None
    surname_latin: str
    given_names_latin: str
    surname_cyrillic: str | None
    given_names_cyrillic: str | None
    birth_date: date
    sex: Sex
    citizenship: str | None
    ethnicity: str | None
    kandas: KandasIn | None
    created_at: datetime

    @classmethod
    def of(cls, p: Person) -> PersonOut:
        doc, kandas = p.travel_document, p.kandas
        return cls(
            id=p.id,
            legal_status=p.legal_status,
            iin=p.iin,
            travel_document=TravelDocumentIn(number=doc.number, country=doc.country)
            if doc
            else None,
            surname_latin=p.surname_latin,
            given_names_latin=p.given_names_latin,
            surname_cyrillic=p.surname_cyrillic,
            given_names_cyrillic=p.given_names_cyrillic,
            birth_date=p.birth_date,
            sex=p.sex,
            citizenship=p.citizenship,
            ethnicity=p.ethnicity,
            kandas=KandasIn(
                certificate_number=kandas.certificate_number,
                certificate_date=kandas.certificate_date,
            )
            if kandas
            else None,
            created_at=p.created_at,
        )


class PersonList(BaseModel):
    items: list[PersonOut]


# --- residences ----------------------------------------------------------------------------


class AddressIn(Strict):
    kato: KATOText
    street: Text
    building: ShortText
    apartment: ShortText | None = None


class ResidenceIn(Strict):
    kind: ResidenceKind
    address: AddressIn
    valid_from: Date
    valid_until: Date | None = Field(default=None, description="temporary stays only")
    purpose: StayPurpose | None = Field(default=None, description="temporary stays only")
    arrived_from: Country | None = Field(
        default=None, description="on arrival from abroad: the country of origin (immigration)"
    )


class AddressOut(BaseModel):
    kato: str
    street: str
    building: str
    apartment: str | None


class ResidenceOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    kind: ResidenceKind
    address: AddressOut
    region: str
    valid_from: date
    valid_until: date | None
    purpose: StayPurpose | None
    labour_migration: bool
    arrived_from: str | None
    status: ResidenceStatus
    ended_on: date | None
    end_reason: EndReason | None

    @classmethod
    def of(cls, r: Residence) -> ResidenceOut:
        a = r.address
        return cls(
            id=r.id,
            person_id=r.person_id,
            kind=r.kind,
            address=AddressOut(
                kato=a.kato, street=a.street, building=a.building, apartment=a.apartment
            ),
            region=r.region,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            purpose=r.purpose,
            labour_migration=r.purpose is StayPurpose.WORK,
            arrived_from=r.arrived_from,
            status=r.status,
            ended_on=r.ended_on,
            end_reason=r.end_reason,
        )


class ResidenceList(BaseModel):
    items: list[ResidenceOut]


class EndResidenceIn(Strict):
    ended_on: Date = Field(description="the last day of the registration")


class EmigrationIn(Strict):
    destination_country: Country
    departed_on: Date


class EmigrationOut(BaseModel):
    person_id: uuid.UUID
    destination_country: str
    departed_on: date
    ended: list[ResidenceOut]


# --- resettlement applications -------------------------------------------------------------


class ApplicationIn(Strict):
    applicant_id: uuid.UUID
    category: ResettlementCategory
    family_member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    target_region: KATOText = Field(description="the region's own KATO code (AB0000000)")
    target_year: int = Field(ge=2000, le=2100)


class ApplicationOut(BaseModel):
    """A resettlement application as the API shows it: the domain object's own fields."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    applicant_id: uuid.UUID
    category: ResettlementCategory
    family_member_ids: list[uuid.UUID]
    persons: int
    target_region: str
    target_year: int
    status: ApplicationStatus
    requested_at: datetime
    quota_id: uuid.UUID | None
    rejection_reason: str | None
    closed_reason: str | None
    decided_at: datetime | None
    settlement: str | None
    completed_on: date | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, a: ResettlementApplication) -> ApplicationOut:
        return cls.model_validate(a)


# --- audit ---------------------------------------------------------------------------------


class AuditOut(BaseModel):
    id: int
    at: datetime
    subject: str
    agency: str | None
    region: str | None
    person_id: uuid.UUID
    route: str
    correlation_id: str | None

    @classmethod
    def of(cls, e: AuditEntry) -> AuditOut:
        return cls(
            id=e.id,
            at=e.at,
            subject=e.subject,
            agency=e.agency,
            region=e.region,
            person_id=e.person_id,
            route=e.route,
            correlation_id=e.correlation_id,
        )
