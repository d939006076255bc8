"""OHM-style layout: upper-case column names, EMP_ID everywhere, dates mostly kept as text."""

from __future__ import annotations

import numpy as np

from workbench.synth import clinical, codes, draw, events, vocab
from workbench.synth.chunk import Chunk
from workbench.synth.people import Cohort
from workbench.synth.styles import common
from workbench.synth.tables import Rows, Style, layout

LAYOUT = """
[demographics] people
EMP_ID          int(11)      id           <- id
LASTNAME        varchar(50)  text pad     <- last
FIRSTNAME       varchar(50)  text pad     <- first
MI              char(1)      text         <- middle
SSN             varchar(11)  text         <- ssn
DOB             varchar(20)  dtext        <- dob
SEX             char(1)      text         <- sex
ADDRESS1        varchar(60)  text pad sentinels <- address
CITY            varchar(40)  text pad     <- city
STATE           char(2)      text         <- state
ZIP             varchar(10)  text         <- zip
HOMEPHONE       varchar(20)  text sentinels <- phone
HIREDATE        varchar(20)  dtext        <- hire
TERMDATE        date         date         <- term
DEPT            varchar(40)  text pad     <- dept
JOBTITLE        varchar(50)  text pad sentinels <- job
STATUS          char(1)      text         <- status

[appointments]
APPT_ID         int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
APPT_DATE       varchar(20)  dtext
APPT_TIME       varchar(8)   text
APPT_TYPE       varchar(40)  text pad
PROVIDER        varchar(40)  text sentinels
LOCATION        varchar(40)  text
STATUS          varchar(12)  text

[vitals]
VITALS_ID       int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
APPT_ID         int(11)      ref orphans -> appointments.APPT_ID
VITAL_DATE      varchar(20)  dtext
HEIGHT_IN       decimal(4,1) num          <- height
WEIGHT_LB       decimal(5,1) num          <- weight
BMI             decimal(4,1) num          <- bmi
BP_SYS          smallint(6)  int          <- systolic
BP_DIA          smallint(6)  int          <- diastolic
PULSE           smallint(6)  int          <- pulse
RESP            smallint(6)  int          <- resp
TEMP_F          decimal(4,1) num          <- temp_f

[audio]
AUDIO_ID        int(11)      id           <- id
EMP_ID          int(11)      fk -> demographics.EMP_ID <- person
TEST_DATE       varchar(20)  dtext        <- date
TEST_TYPE       varchar(12)  text         <- type
R500            smallint(6)  int
R1000           smallint(6)  int
R2000           smallint(6)  int
R3000           smallint(6)  int
R4000           smallint(6)  int
R6000           smallint(6)  int
R8000           smallint(6)  int
L500            smallint(6)  int
L1000           smallint(6)  int
L2000           smallint(6)  int
L3000           smallint(6)  int
L4000           smallint(6)  int
L6000           smallint(6)  int
L8000           smallint(6)  int
STS_RIGHT       char(1)      text         <- sts_R
STS_LEFT        char(1)      text         <- sts_L
TECH            varchar(40)  text sentinels <- tech
AUDIOMETER      varchar(30)  text         <- audiometer

[immunization]
IMMUN_ID        int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
VACCINE_CODE    varchar(16)  code pad xw=vaccine_cvx <- code
VACCINE_NAME    varchar(60)  text         <- name
DOSE            varchar(10)  text         <- dose
ROUTE           varchar(5)   text         <- route
SITE            varchar(20)  text         <- site
LOT_NO          varchar(20)  text sentinels <- lot
MFR             varchar(40)  text         <- manufacturer
ADMIN_DATE      varchar(20)  dtext
EXP_DATE        date         date         <- expires
GIVEN_BY        varchar(40)  text         <- given_by

[pft]
PFT_ID          int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
TEST_DATE       varchar(20)  dtext
FVC             decimal(4,2) num          <- fvc
FVC_PRED        decimal(4,2) num          <- fvc_pred
FVC_PCT         smallint(6)  int          <- fvc_pct
FEV1            decimal(4,2) num          <- fev1
FEV1_PRED       decimal(4,2) num          <- fev1_pred
FEV1_PCT        smallint(6)  int          <- fev1_pct
FEV1_FVC        decimal(4,1) num          <- ratio
INTERPRETATION  varchar(40)  text sentinels <- interpretation
SMOKER          char(1)      text
TECH            varchar(40)  text

[tuber]
TB_ID           int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
LAB_CODE        varchar(16)  code pad xw=tb_loinc <- code
TEST_NAME       varchar(50)  text         <- name
PLACED_DATE     varchar(20)  dtext        <- placed
READ_DATE       varchar(20)  dtext        <- read
INDURATION_MM   smallint(6)  int          <- induration
RESULT          varchar(20)  text sentinels <- result
RESULT_VALUE    varchar(10)  text         <- value
LOT_NO          varchar(20)  text         <- lot
SITE            varchar(20)  text         <- site
READ_BY         varchar(40)  text         <- read_by

[xray]
XRAY_ID         int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
XRAY_DATE       varchar(20)  dtext
XRAY_TYPE       varchar(30)  text
RESULT          varchar(40)  text pad sentinels
ILO_PROFUSION   varchar(5)   text
READER          varchar(40)  text

[cholesterol]
CHOL_ID         int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
LAB_CODE        varchar(16)  code pad xw=chemistry_loinc
TEST_NAME       varchar(40)  text
RESULT_DATE     varchar(20)  dtext
RESULT          decimal(6,1) num
UNITS           varchar(10)  text
REF_RANGE       varchar(20)  text
ABN_FLAG        char(1)      text
FASTING         char(1)      text

[docnote]
NOTE_ID         int(11)      id           <- id
EMP_ID          int(11)      fk -> demographics.EMP_ID <- person
NOTE_DATE       varchar(20)  dtext        <- date
AUTHOR          varchar(40)  text         <- author
NOTE_TYPE       varchar(30)  text         <- type
NOTE_TEXT       text         note         <- text

[rnnote]
RNNOTE_ID       int(11)      id           <- id
EMP_ID          int(11)      fk -> demographics.EMP_ID <- person
NOTE_DATE       varchar(20)  dtext        <- date
NURSE           varchar(40)  text         <- author
NOTE_TEXT       text         note         <- text

[employeerestrictions]
RESTRICT_ID     int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
RESTRICTION     varchar(100) text pad     <- restriction
START_DATE      varchar(20)  dtext        <- start
END_DATE        varchar(20)  dtext        <- end
PERMANENT       char(1)      text         <- permanent
ISSUED_BY       varchar(40)  text         <- issued_by

[employeelosttime]
LOSTTIME_ID     int(11)      id
EMP_ID          int(11)      fk -> demographics.EMP_ID
START_DATE      varchar(20)  dtext        <- start
RTW_DATE        varchar(20)  dtext        <- rtw
DAYS_LOST       int(11)      int          <- days
REASON          varchar(40)  text pad     <- reason
OSHA_RECORDABLE char(1)      text         <- recordable
"""


def plan_rows(rng: np.random.Generator, c: Cohort) -> dict[str, Rows]:
    exposed, hcw = c.noise_exposed, c.healthcare
    appts = common.per_person(rng, c, 0.9)
    with_vitals = rng.random(len(appts)) < 0.65
    panels = common.per_person(rng, c, 0.1)
    return {
        "appointments": appts,
        "vitals": Rows(appts.owners[with_vitals], np.flatnonzero(with_vitals)),
        "audio": common.per_person(rng, c, np.where(exposed, 0.75, 0.03), exposed.astype(int)),
        "immunization": common.per_person(rng, c, np.where(hcw, 0.8, 0.45)),
        "pft": common.per_person(rng, c, np.where(exposed, 0.2, 0.04)),
        "tuber": common.per_person(rng, c, np.where(hcw, 0.8, 0.06), hcw.astype(int)),
        "xray": common.per_person(rng, c, 0.06),
        # a lipid panel is five rows, one per analyte
        "cholesterol": Rows(
            np.repeat(panels.owners, 5),
            np.repeat(np.arange(len(panels)), 5),
            np.tile(np.arange(5), len(panels)),
        ),
        "docnote": common.per_person(rng, c, 0.25),
        "rnnote": common.per_person(rng, c, 0.35),
        "employeerestrictions": common.per_person(rng, c, 0.04),
        "employeelosttime": common.per_person(rng, c, 0.025),
    }


def appointments(ch: Chunk) -> dict:
    t = "appointments"
    rng, n = ch.rng(t), len(ch.rows[t])
    kept = np.zeros(n, dtype=bool)
    kept[ch.parent("vitals")] = True
    slot = rng.integers(0, 40, n)  # 07:00 to 16:45 in quarter hours
    status = events.weighted(rng, events.APPOINTMENT_STATUS, n)
    return {
        "APPT_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "APPT_DATE": draw.dates(ch.event_days(t)),
        "APPT_TIME": draw.concat(draw.zfill(7 + slot // 4, 2), ":", draw.zfill(slot % 4 * 15, 2)),
        "APPT_TYPE": events.weighted(rng, events.APPOINTMENT_TYPES, n),
        "PROVIDER": draw.choice(rng, vocab.PROVIDERS, n),
        "LOCATION": draw.choice(rng, events.LOCATIONS, n),
        "STATUS": draw.where(kept, common.fill("KEPT", n), status),
    }


def vitals(ch: Chunk) -> dict:
    t = "vitals"
    date = ch.from_parent(t, "appointments", "APPT_DATE")
    return {
        "VITALS_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "APPT_ID": draw.ints(ch.row_ids("appointments")[ch.parent(t)]),
        "VITAL_DATE": date,
        **common.vital_signs(ch, t, common.as_days(date)),
    }


def immunization(ch: Chunk) -> dict:
    t = "immunization"
    days = ch.event_days(t)
    return {
        "IMMUN_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "ADMIN_DATE": draw.dates(days),
        **common.vaccines(ch, t, len(days), days),
    }


def pft(ch: Chunk) -> dict:
    t = "pft"
    c, o, rng = ch.cohort, ch.owners(t), ch.rng(t)
    days = common.ranked_days(ch, t)
    smoker = (rng.random(c.size) < 0.2)[o]
    s = clinical.spirometry(rng, c.sex[o], c.age_at(o, days), c.height_in[o], smoker)
    decimals = {"fvc": 2, "fvc_pred": 2, "fev1": 2, "fev1_pred": 2, "ratio": 1}
    return {
        "PFT_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "TEST_DATE": draw.dates(days),
        **{k: draw.nums(s[k], d) for k, d in decimals.items()},
        "fvc_pct": draw.ints(s["fvc_pct"]),
        "fev1_pct": draw.ints(s["fev1_pct"]),
        "interpretation": draw.pick(clinical.SPIROMETRY_READINGS, s["interpretation"]),
        "SMOKER": draw.pick(("N", "Y"), smoker.astype(np.int64)),
        "TECH": draw.choice(rng, vocab.TECHNICIANS, len(o)),
    }


def tuber(ch: Chunk) -> dict:
    t = "tuber"
    days = ch.event_days(t)
    return {
        "TB_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        **common.tb_tests(ch, t, len(days), days),
    }


def xray(ch: Chunk) -> dict:
    t = "xray"
    rng, n = ch.rng(t), len(ch.rows[t])
    kind = events.weighted(rng, events.XRAY_TYPES, n)
    b_read = (kind == "CHEST B READ").to_numpy()
    return {
        "XRAY_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "XRAY_DATE": draw.dates(ch.event_days(t)),
        "XRAY_TYPE": kind,
        "RESULT": events.weighted(rng, events.XRAY_RESULTS, n),
        "ILO_PROFUSION": draw.nullify(events.weighted(rng, events.ILO_PROFUSION, n), ~b_read),
        "READER": draw.choice(rng, events.RADIOLOGISTS, n),
    }


_CHEM_RANGES = ("<200", "40-100", "<130", "<150", "70-99", "70-140")
_CHEM_HIGH = np.array([200, 1e9, 130, 150, 99, 140])
_CHEM_LOW = np.array([0, 40, 0, 0, 70, 70])


def cholesterol(ch: Chunk) -> dict:
    t = "cholesterol"
    c, rows, rng = ch.cohort, ch.rows[t], ch.rng(t)
    o, n = rows.owners, len(rows)
    panel_owner = o[::5]
    panel_day = draw.between(rng, c.start[panel_owner], c.end[panel_owner])
    fasting = np.repeat(rng.random(len(panel_owner)) < 0.7, 5)
    analyte = np.where((rows.variant == 4) & ~fasting, 5, rows.variant)  # random glucose
    value = clinical.chemistry(rng, analyte, c.sex[o], c.bmi[o])
    flag = np.where(value > _CHEM_HIGH[analyte], 1, np.where(value < _CHEM_LOW[analyte], 2, 0))
    return {
        "CHOL_ID": ch.ids(t),
        "EMP_ID": ch.person_fk(t),
        "LAB_CODE": draw.pick([x.code for x in codes.CHEMISTRY], analyte),
        "TEST_NAME": draw.pick([x.name for x in codes.CHEMISTRY], analyte),
        "RESULT_DATE": draw.dates(np.repeat(panel_day, 5)),
        "RESULT": draw.nums(value, 1),
        "UNITS": common.fill("mg/dL", n),
        "REF_RANGE": draw.pick(_CHEM_RANGES, analyte),
        "ABN_FLAG": draw.nullify(draw.pick(("N", "H", "L"), flag), flag == 0),
        "FASTING": draw.pick(("N", "Y"), fasting.astype(np.int64)),
    }


def employeerestrictions(ch: Chunk) -> dict:
    t = "employeerestrictions"
    r = common.restrictions(ch, t, ch.event_days(t))
    return {"RESTRICT_ID": ch.ids(t), "EMP_ID": ch.person_fk(t), **r}


def employeelosttime(ch: Chunk) -> dict:
    t = "employeelosttime"
    lt = common.lost_time(ch, t, ch.event_days(t))
    return {"LOSTTIME_ID": ch.ids(t), "EMP_ID": ch.person_fk(t), **lt}


BUILDERS = {
    "demographics": lambda ch: common.person(ch, "demographics"),
    "appointments": appointments,
    "vitals": vitals,
    "audio": lambda ch: common.audiometry(ch, "audio"),
    "immunization": immunization,
    "pft": pft,
    "tuber": tuber,
    "xray": xray,
    "cholesterol": cholesterol,
    "docnote": lambda ch: common.note_rows(ch, "docnote"),
    "rnnote": lambda ch: common.note_rows(ch, "rnnote", vocab.NURSES),
    "employeerestrictions": employeerestrictions,
    "employeelosttime": employeelosttime,
}

STYLE = Style(
    name="ohm",
    title="OHM (Occupational Health Manager)",
    tables=layout(LAYOUT, BUILDERS),
    plan_rows=plan_rows,
    people_id_base=100_000,
    name_columns=("LASTNAME", "FIRSTNAME"),
)
