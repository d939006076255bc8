"""Medgate-style layout: CamelCase names, EmployeeID and CaseNumber keys, incidents
(casemaster) that clinic visits, restrictions and lost time refer to."""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.synth import clinical, draw, events, notes, vocab
from workbench.synth.chunk import Chunk, combine
from workbench.synth.people import Cohort
from workbench.synth.styles import common
from workbench.synth.tables import Rows, Style, layout

LAYOUT = """
[employee] people
EmployeeID            int(11)      id           <- id
EmployeeNumber        varchar(20)  text         <- number
LastName              varchar(50)  text pad     <- last
FirstName             varchar(50)  text pad     <- first
MiddleName            varchar(30)  text         <- middle
SSN                   varchar(11)  text         <- ssn
BirthDate             varchar(30)  dtext        <- dob
Gender                char(1)      text         <- sex
Address1              varchar(100) text pad sentinels <- address
City                  varchar(50)  text pad     <- city
StateProvince         varchar(20)  text         <- state
PostalCode            varchar(10)  text         <- zip
HomePhone             varchar(25)  text sentinels <- phone
HireDate              varchar(30)  dtext        <- hire
TerminationDate       date         date         <- term
DepartmentCode        varchar(50)  text pad     <- dept
JobTitle              varchar(100) text pad sentinels <- job
EmploymentStatus      varchar(20)  text         <- status

[casemaster]
CaseNumber            varchar(20)  key
EmployeeID            int(11)      fk -> employee.EmployeeID
IncidentDate          varchar(30)  dtext
ReportedDate          varchar(30)  dtext
BodyPart              varchar(50)  text pad
InjuryType            varchar(50)  text sentinels
Cause                 varchar(50)  text
OSHARecordable        char(1)      text
CaseStatus            varchar(20)  text
ClosedDate            date         date
CaseNotes             text         note

[audiometry]
AudiometryID          int(11)      id           <- id
EmployeeID            int(11)      fk -> employee.EmployeeID <- person
TestDate              varchar(30)  dtext        <- date
TestType              varchar(20)  text         <- type
Right500Hz            smallint(6)  int          <- R500
Right1000Hz           smallint(6)  int          <- R1000
Right2000Hz           smallint(6)  int          <- R2000
Right3000Hz           smallint(6)  int          <- R3000
Right4000Hz           smallint(6)  int          <- R4000
Right6000Hz           smallint(6)  int          <- R6000
Right8000Hz           smallint(6)  int          <- R8000
Left500Hz             smallint(6)  int          <- L500
Left1000Hz            smallint(6)  int          <- L1000
Left2000Hz            smallint(6)  int          <- L2000
Left3000Hz            smallint(6)  int          <- L3000
Left4000Hz            smallint(6)  int          <- L4000
Left6000Hz            smallint(6)  int          <- L6000
Left8000Hz            smallint(6)  int          <- L8000
STSRight              char(1)      text         <- sts_R
STSLeft               char(1)      text         <- sts_L
TechnicianName        varchar(50)  text sentinels <- tech
Audiometer            varchar(50)  text         <- audiometer

[clinicvisit]
ClinicVisitID         int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
CaseNumber            varchar(20)  ref -> casemaster.CaseNumber
VisitDate             varchar(30)  dtext
VisitType             varchar(30)  text
Provider              varchar(50)  text sentinels
Height                decimal(4,1) num          <- height
Weight                decimal(5,1) num          <- weight
BMI                   decimal(4,1) num          <- bmi
Systolic              smallint(6)  int          <- systolic
Diastolic             smallint(6)  int          <- diastolic
Pulse                 smallint(6)  int          <- pulse
Disposition           varchar(50)  text pad

[immunizations]
ImmunizationID        int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
ImmunizationCode      varchar(16)  code pad xw=vaccine_cvx
ImmunizationName      varchar(60)  text
DoseNumber            varchar(5)   text
DateGiven             varchar(30)  dtext
LotNumber             varchar(20)  text sentinels
Manufacturer          varchar(50)  text
ExpirationDate        date         date
Route                 varchar(10)  text
Site                  varchar(20)  text
AdministeredBy        varchar(50)  text
DateRead              varchar(30)  dtext
Induration            smallint(6)  int
Result                varchar(20)  text sentinels

[employeerestrictions]
RestrictionID         int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
CaseNumber            varchar(20)  ref -> casemaster.CaseNumber
RestrictionDescription varchar(255) text pad    <- restriction
StartDate             varchar(30)  dtext        <- start
EndDate               varchar(30)  dtext        <- end
IsPermanent           char(1)      text         <- permanent
IssuedBy              varchar(50)  text         <- issued_by

[employeelosttime]
LostTimeID            int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
CaseNumber            varchar(20)  ref -> casemaster.CaseNumber
StartDate             varchar(30)  dtext        <- start
ReturnToWorkDate      varchar(30)  dtext        <- rtw
DaysLost              int(11)      int          <- days
LostTimeReason        varchar(50)  text pad     <- reason
OSHARecordable        char(1)      text         <- recordable

[medications]
MedicationID          int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
MedicationName        varchar(100) text pad
Dose                  varchar(30)  text
Route                 varchar(10)  text
Frequency             varchar(20)  text
StartDate             varchar(30)  dtext
StopDate              varchar(30)  dtext
PrescribedBy          varchar(50)  text
Comments              text         note

[visiontests]
VisionTestID          int(11)      id
EmployeeID            int(11)      fk -> employee.EmployeeID
TestDate              varchar(30)  dtext
RightDistance         varchar(10)  text
LeftDistance          varchar(10)  text
BothDistance          varchar(10)  text
RightNear             varchar(10)  text
LeftNear              varchar(10)  text
ColorVision           varchar(20)  text sentinels
Corrected             char(1)      text
TechnicianName        varchar(50)  text
"""


def plan_rows(rng: np.random.Generator, c: Cohort) -> dict[str, Rows]:
    exposed, hcw = c.noise_exposed, c.healthcare
    cases = common.per_person(rng, c, np.where(exposed, 0.07, 0.035))
    case_idx = np.arange(len(cases))
    restricted = rng.random(len(cases)) < 0.45
    lost = rng.random(len(cases)) < 0.3
    return {
        "casemaster": cases,
        "audiometry": common.per_person(rng, c, np.where(exposed, 0.75, 0.03), exposed.astype(int)),
        "clinicvisit": combine(common.per_person(rng, c, 0.7), Rows(cases.owners, case_idx)),
        "immunizations": combine(
            common.per_person(rng, c, np.where(hcw, 0.8, 0.45)),
            common.per_person(rng, c, np.where(hcw, 0.8, 0.06), hcw.astype(int)),
        ),
        "employeerestrictions": combine(
            Rows(cases.owners[restricted], case_idx[restricted]), common.per_person(rng, c, 0.015)
        ),
        "employeelosttime": combine(
            Rows(cases.owners[lost], case_idx[lost]), common.per_person(rng, c, 0.01)
        ),
        "medications": common.per_person(rng, c, 0.2),
        "visiontests": common.per_person(rng, c, np.where(exposed, 0.2, 0.08)),
    }


def employee(ch: Chunk) -> dict:
    cols = common.person(ch, "employee")
    cols["number"] = draw.concat("E", draw.zfill(cols["id"].to_numpy() + 10_000, 7))
    cols["status"] = cols["status"].replace_strict({"A": "Active", "T": "Terminated"})
    return cols


def casemaster(ch: Chunk) -> dict:
    t = "casemaster"
    rng, n = ch.rng(t), len(ch.rows[t])
    days = ch.event_days(t)
    year = pl.Series(days.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)
    status = events.weighted(rng, events.CASE_STATUS, n)
    open_case = (status == "OPEN").to_numpy()
    return {
        "CaseNumber": draw.concat("C", year.cast(pl.Utf8), "-", draw.zfill(ch.row_ids(t), 6)),
        "EmployeeID": ch.person_fk(t),
        "IncidentDate": draw.dates(days),
        "ReportedDate": draw.dates(days + rng.choice([0, 0, 0, 1, 1, 2, 5], n)),
        "BodyPart": events.weighted(rng, events.BODY_PARTS, n),
        "InjuryType": events.weighted(rng, events.INJURY_TYPES, n),
        "Cause": events.weighted(rng, events.CAUSES, n),
        "OSHARecordable": draw.pick(("N", "Y"), (rng.random(n) < 0.35).astype(np.int64)),
        "CaseStatus": status,
        "ClosedDate": draw.dates(days + rng.integers(3, 120, n), null=open_case),
        "CaseNotes": notes.notes(ch.rng(f"{t}:text"), n, ch.dirt.note_specials),
    }


def clinicvisit(ch: Chunk) -> dict:
    t = "clinicvisit"
    rng, n = ch.rng(t), len(ch.rows[t])
    from_case = ch.parent(t) >= 0  # the first visit for an injury
    incident = common.as_days(ch.from_parent(t, "casemaster", "IncidentDate"))
    days = np.where(from_case, incident + rng.choice([0, 0, 1, 2], n), ch.event_days(t))
    visit_type = events.weighted(rng, events.VISIT_TYPES, n)
    return {
        "ClinicVisitID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "CaseNumber": ch.from_parent(t, "casemaster", "CaseNumber"),
        "VisitDate": draw.dates(days),
        "VisitType": draw.where(from_case, common.fill("INJURY", n), visit_type),
        "Provider": draw.choice(rng, vocab.PROVIDERS, n),
        **common.vital_signs(ch, t, days),
        "Disposition": events.weighted(rng, events.DISPOSITIONS, n),
    }


def immunizations(ch: Chunk) -> dict:
    t = "immunizations"
    rows = ch.rows[t]
    n = len(rows)
    days = ch.event_days(t)
    test = rows.variant == 1
    v = common.vaccines(ch, t, n, days)
    tb = common.tb_tests(ch, t, n, days)
    rng = ch.rng(t)
    dose_no = draw.pick(("1", "2", "3", "B"), rng.choice(4, n, p=(0.6, 0.2, 0.12, 0.08)))

    return {
        "ImmunizationID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "ImmunizationCode": draw.where(test, tb["code"], v["code"]),
        "ImmunizationName": draw.where(test, tb["name"], v["name"]),
        "DoseNumber": draw.nullify(dose_no, test),
        "DateGiven": draw.dates(days),
        "LotNumber": draw.where(test, tb["lot"], v["lot"]),
        "Manufacturer": draw.nullify(v["manufacturer"], test),
        "ExpirationDate": draw.nullify(v["expires"], test),
        "Route": draw.nullify(v["route"], test),
        "Site": draw.where(test, tb["site"], v["site"]),
        "AdministeredBy": v["given_by"],
        "DateRead": draw.nullify(tb["read"], ~test),
        "Induration": tb["induration"],
        "Result": draw.nullify(tb["result"], ~test),
    }


def employeerestrictions(ch: Chunk) -> dict:
    t = "employeerestrictions"
    return {
        "RestrictionID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "CaseNumber": ch.from_parent(t, "casemaster", "CaseNumber"),
        **common.restrictions(ch, t, _after_case(ch, t, 0, 3)),
    }


def employeelosttime(ch: Chunk) -> dict:
    t = "employeelosttime"
    return {
        "LostTimeID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "CaseNumber": ch.from_parent(t, "casemaster", "CaseNumber"),
        **common.lost_time(ch, t, _after_case(ch, t, 1, 4)),
    }


def _after_case(ch: Chunk, t: str, lo: int, hi: int) -> np.ndarray:
    """A start day: shortly after the incident for rows of a case, any day otherwise."""
    incident = common.as_days(ch.from_parent(t, "casemaster", "IncidentDate"))
    gap = ch.rng(f"{t}:gap").integers(lo, hi, len(incident))
    return np.where(ch.parent(t) >= 0, incident + gap, ch.event_days(t))


def medications(ch: Chunk) -> dict:
    t = "medications"
    rng, n = ch.rng(t), len(ch.rows[t])
    days = ch.event_days(t)
    med = rng.choice(len(events.MEDICATIONS), n, p=draw.weights(events.MEDICATION_WEIGHTS))
    stop = days + rng.integers(3, 90, n)
    ongoing = rng.random(n) < 0.2
    return {
        "MedicationID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "MedicationName": draw.pick([m[0] for m in events.MEDICATIONS], med),
        "Dose": draw.pick([m[1] for m in events.MEDICATIONS], med),
        "Route": draw.pick([m[2] for m in events.MEDICATIONS], med),
        "Frequency": draw.pick([m[3] for m in events.MEDICATIONS], med),
        "StartDate": draw.dates(days),
        "StopDate": draw.dates(stop, null=ongoing),
        "PrescribedBy": draw.choice(rng, vocab.PROVIDERS, n),
        "Comments": draw.nullify(
            notes.notes(ch.rng(f"{t}:text"), n, ch.dirt.note_specials),
            rng.random(n) < 0.7,
        ),
    }


def visiontests(ch: Chunk) -> dict:
    t = "visiontests"
    rng, n = ch.rng(t), len(ch.rows[t])
    base = rng.choice(len(clinical.SNELLEN), n, p=draw.weights(clinical.SNELLEN_WEIGHTS))
    other = np.clip(base + rng.choice([-1, 0, 0, 0, 1, 2], n), 0, len(clinical.SNELLEN) - 1)
    both = np.minimum(base, other)
    return {
        "VisionTestID": ch.ids(t),
        "EmployeeID": ch.person_fk(t),
        "TestDate": draw.dates(common.ranked_days(ch, t)),
        "RightDistance": draw.pick(clinical.SNELLEN, base),
        "LeftDistance": draw.pick(clinical.SNELLEN, other),
        "BothDistance": draw.pick(clinical.SNELLEN, both),
        "RightNear": draw.choice(rng, clinical.JAEGER, n, p=(40, 15, 20, 12, 8, 5)),
        "LeftNear": draw.choice(rng, clinical.JAEGER, n, p=(40, 15, 20, 12, 8, 5)),
        "ColorVision": draw.pick(("NORMAL", "DEFICIENT"), (rng.random(n) < 0.06).astype(np.int64)),
        "Corrected": draw.pick(("N", "Y"), (rng.random(n) < 0.45).astype(np.int64)),
        "TechnicianName": draw.choice(rng, vocab.TECHNICIANS, n),
    }


BUILDERS = {
    "employee": employee,
    "casemaster": casemaster,
    "audiometry": lambda ch: common.audiometry(ch, "audiometry"),
    "clinicvisit": clinicvisit,
    "immunizations": immunizations,
    "employeerestrictions": employeerestrictions,
    "employeelosttime": employeelosttime,
    "medications": medications,
    "visiontests": visiontests,
}

STYLE = Style(
    name="medgate",
    title="Medgate 6.0",
    tables=layout(LAYOUT, BUILDERS),
    plan_rows=plan_rows,
    people_id_base=0,
    name_columns=("LastName", "FirstName"),
)
