"""Categorical vocabularies of clinic events: visits, x-rays, injuries, restrictions, lost
time, medications and vaccine lots, with the weights they are drawn with."""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.synth import draw

APPOINTMENT_TYPES = (
    ("ANNUAL PHYSICAL", 18),
    ("PRE-PLACEMENT", 9),
    ("HEARING CONSERVATION", 14),
    ("RESPIRATOR CLEARANCE", 8),
    ("DOT EXAM", 6),
    ("INJURY F/U", 12),
    ("TB SCREEN", 9),
    ("FLU CLINIC", 10),
    ("RETURN TO WORK", 6),
    ("DRUG SCREEN", 5),
    ("BLOOD PRESSURE CHECK", 3),
)
APPOINTMENT_STATUS = (("KEPT", 86), ("CANCELLED", 8), ("NO SHOW", 6))
LOCATIONS = ("MAIN CLINIC", "PLANT 2 FIRST AID", "WEST CAMPUS", "MOBILE VAN")

VISIT_TYPES = (
    ("ILLNESS", 20),
    ("SURVEILLANCE", 25),
    ("PRE-PLACEMENT", 10),
    ("FOLLOW UP", 20),
    ("FITNESS FOR DUTY", 8),
    ("IMMUNIZATION", 12),
    ("RETURN TO WORK", 5),
)
DISPOSITIONS = (
    ("RETURN TO FULL DUTY", 62),
    ("RETURN WITH RESTRICTIONS", 15),
    ("REFERRED TO PCP", 10),
    ("SENT HOME", 6),
    ("REFERRED TO SPECIALIST", 5),
    ("SENT TO ER", 2),
)

XRAY_TYPES = (
    ("CHEST PA", 45),
    ("CHEST PA/LAT", 25),
    ("CHEST B READ", 15),
    ("LUMBAR SPINE", 8),
    ("HAND/WRIST", 7),
)
XRAY_RESULTS = (
    ("NORMAL", 55),
    ("NO ACUTE DISEASE", 22),
    ("ABNORMAL - SEE REPORT", 6),
    ("GRANULOMA", 5),
    ("COMPARE TO PRIOR", 7),
    ("DEGENERATIVE CHANGES", 5),
)
ILO_PROFUSION = (("0/0", 88), ("0/1", 7), ("1/0", 3), ("1/1", 2))
RADIOLOGISTS = ("R FINE MD", "M OYELARAN MD", "J PASTOR MD B-READER", "K LEE MD")

BODY_PARTS = (
    ("LOWER BACK", 22),
    ("RIGHT HAND", 9),
    ("LEFT HAND", 8),
    ("FINGER(S)", 12),
    ("RIGHT KNEE", 5),
    ("LEFT KNEE", 5),
    ("SHOULDER", 9),
    ("EYE", 7),
    ("ANKLE", 6),
    ("WRIST", 6),
    ("NECK", 4),
    ("HEAD", 3),
    ("FOOT", 4),
)
INJURY_TYPES = (
    ("STRAIN", 28),
    ("SPRAIN", 14),
    ("LACERATION", 15),
    ("CONTUSION", 13),
    ("FOREIGN BODY", 7),
    ("BURN", 4),
    ("FRACTURE", 3),
    ("PUNCTURE/NEEDLESTICK", 5),
    ("DERMATITIS", 4),
    ("CHEMICAL EXPOSURE", 3),
    ("HEARING LOSS", 4),
)
CAUSES = (
    ("LIFTING", 25),
    ("SLIP/TRIP/FALL", 18),
    ("STRUCK BY OBJECT", 14),
    ("CAUGHT IN/BETWEEN", 7),
    ("REPETITIVE MOTION", 12),
    ("SHARP OBJECT", 12),
    ("CHEMICAL CONTACT", 5),
    ("PUSHING/PULLING", 7),
)
CASE_STATUS = (("CLOSED", 85), ("OPEN", 10), ("REOPENED", 5))

RESTRICTIONS = (
    ("NO LIFTING OVER 20 LBS", 22),
    ("NO LIFTING OVER 10 LBS", 10),
    ("NO OVERHEAD WORK", 10),
    ("SEATED WORK ONLY", 8),
    ("NO USE OF RIGHT HAND", 7),
    ("NO USE OF LEFT HAND", 5),
    ("NO CLIMBING LADDERS", 8),
    ("NO RESPIRATOR USE", 6),
    ("NO DRIVING COMPANY VEHICLES", 5),
    ("HEARING PROTECTION REQUIRED", 8),
    ("LIMITED WALKING/STANDING", 7),
    ("NO NIGHT SHIFT", 4),
)
LOST_TIME_REASONS = (
    ("WORK INJURY", 45),
    ("SURGERY", 12),
    ("ILLNESS", 20),
    ("FMLA", 10),
    ("WORKERS COMP", 13),
)

# (name, dose, route, frequency)
MEDICATIONS = (
    ("IBUPROFEN", "800 MG", "PO", "TID PRN"),
    ("IBUPROFEN", "600 MG", "PO", "Q6H PRN"),
    ("NAPROXEN", "500 MG", "PO", "BID"),
    ("CYCLOBENZAPRINE", "10 MG", "PO", "QHS"),
    ("ACETAMINOPHEN", "500 MG", "PO", "Q6H PRN"),
    ("LISINOPRIL", "10 MG", "PO", "DAILY"),
    ("METFORMIN", "500 MG", "PO", "BID"),
    ("ATORVASTATIN", "20 MG", "PO", "DAILY"),
    ("AMOXICILLIN", "500 MG", "PO", "TID"),
    ("CEPHALEXIN", "500 MG", "PO", "QID"),
    ("PREDNISONE", "20 MG", "PO", "DAILY"),
    ("TRAMADOL", "50 MG", "PO", "Q6H PRN"),
    ("LORATADINE", "10 MG", "PO", "DAILY"),
    ("BACITRACIN OINTMENT", "1 APPLICATION", "TOP", "BID"),
    ("TETRACAINE 0.5% EYE DROPS", "1 DROP", "OPH", "ONCE"),
    ("ISONIAZID", "300 MG", "PO", "DAILY"),
)
MEDICATION_WEIGHTS = (12, 8, 9, 7, 10, 6, 4, 5, 5, 4, 4, 3, 5, 6, 3, 2)
INJECTION_SITES = ("L DELTOID", "R DELTOID", "L FOREARM", "R FOREARM", "L THIGH")

_LETTERS = tuple("ABCDEFGHJKLMNPRSTUVWXYZ")


def weighted(rng: np.random.Generator, pairs, n: int) -> pl.Series:
    return draw.choice(rng, [p[0] for p in pairs], n, p=[p[1] for p in pairs])


def lot_numbers(rng: np.random.Generator, n: int) -> pl.Series:
    """Lot numbers shaped like the manufacturers print them: U5432AA, AC52B123AA, 1234Z."""
    shape = rng.integers(0, 3, n)
    a = draw.concat(
        draw.choice(rng, _LETTERS, n),
        draw.digits(rng, n, 4),
        draw.choice(rng, _LETTERS, n),
        draw.choice(rng, _LETTERS, n),
    )
    b = draw.concat(
        "AC", draw.digits(rng, n, 2), draw.choice(rng, _LETTERS, n), draw.digits(rng, n, 3), "AA"
    )
    c = draw.concat(draw.digits(rng, n, 4), draw.choice(rng, _LETTERS, n))
    return draw.where(shape == 0, a, draw.where(shape == 1, b, c))
