"""Local codes the legacy clinic used, and the standard codes they cross-walk to.

A crosswalk is part of the ground truth: the manifest carries it so that a later stage can
check its own crosswalk's coverage. Codes whose ``standard`` is None have no known standard
code on purpose; they are what a real clinic's leftovers look like.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalCode:
    code: str
    name: str
    standard: str | None
    standard_name: str | None
    weight: float
    manufacturers: tuple[str, ...] = ()
    route: str = "IM"


VACCINES: tuple[LocalCode, ...] = (
    LocalCode(
        "FLU",
        "INFLUENZA VACCINE",
        "141",
        "Influenza, seasonal, injectable",
        34,
        ("SANOFI PASTEUR", "SEQIRUS"),
    ),
    LocalCode(
        "FLU-PF",
        "INFLUENZA PRESERVATIVE FREE",
        "140",
        "Influenza, seasonal, injectable, preservative free",
        10,
        ("SANOFI PASTEUR", "GSK"),
    ),
    LocalCode("HEPB-1", "HEPATITIS B #1", "43", "Hep B, adult", 6, ("MERCK", "GSK")),
    LocalCode("HEPB-2", "HEPATITIS B #2", "43", "Hep B, adult", 5.5, ("MERCK", "GSK")),
    LocalCode("HEPB-3", "HEPATITIS B #3", "43", "Hep B, adult", 5, ("MERCK", "GSK")),
    LocalCode("TDAP", "TDAP (ADACEL/BOOSTRIX)", "115", "Tdap", 9, ("SANOFI PASTEUR", "GSK")),
    LocalCode(
        "TD",
        "TETANUS-DIPHTHERIA",
        "113",
        "Td (adult) preservative free",
        5,
        ("MASS BIOLOGICS", "SANOFI PASTEUR"),
    ),
    LocalCode("MMR", "MEASLES MUMPS RUBELLA", "03", "MMR", 4, ("MERCK",), "SC"),
    LocalCode("VAR", "VARICELLA", "21", "varicella", 2.5, ("MERCK",), "SC"),
    LocalCode("HEPA-1", "HEPATITIS A #1", "52", "Hep A, adult", 2, ("GSK", "MERCK")),
    LocalCode("HEPA-2", "HEPATITIS A #2", "52", "Hep A, adult", 1.5, ("GSK", "MERCK")),
    LocalCode("PNEUMO", "PNEUMOVAX 23", "33", "pneumococcal polysaccharide PPV23", 1.5, ("MERCK",)),
    LocalCode("TYPH", "TYPHOID VI", "101", "typhoid, ViCPs", 0.8, ("SANOFI PASTEUR",)),
    LocalCode("YF", "YELLOW FEVER", "37", "yellow fever", 0.4, ("SANOFI PASTEUR",), "SC"),
    LocalCode(
        "RAB-1",
        "RABIES PRE-EXPOSURE",
        "18",
        "rabies, intramuscular injection",
        0.6,
        ("NOVARTIS", "SANOFI PASTEUR"),
    ),
    LocalCode("IPV", "POLIO IPV", "10", "IPV", 0.5, ("SANOFI PASTEUR",)),
    LocalCode("MENING", "MENINGOCOCCAL", "114", "meningococcal MCV4P", 0.5, ("SANOFI PASTEUR",)),
)

# Local vaccine codes with no CVX: injected at the ``unmapped_codes`` rate.
UNMAPPED_VACCINES: tuple[LocalCode, ...] = (
    LocalCode("OTHER", "OTHER VACCINE SEE NOTE", None, None, 4, ("UNKNOWN",)),
    LocalCode("TRAVEL", "TRAVEL CLINIC PACKAGE", None, None, 2, ("UNKNOWN",)),
    LocalCode("FLU-STDY", "FLU VACCINE STUDY ARM", None, None, 1, ("RESEARCH",)),
    LocalCode("HEPB-TTR", "HEP B BOOSTER PER TITER", None, None, 1, ("MERCK",)),
)

# TB tests: Medgate keeps them in its immunizations table, OHM in tuber. No CVX (not
# vaccines); LOINC only where the code is certain.
TB_TESTS: tuple[LocalCode, ...] = (
    LocalCode("PPD", "TUBERCULIN SKIN TEST (MANTOUX)", None, None, 80, ("SANOFI PASTEUR",), "ID"),
    LocalCode(
        "QFT",
        "QUANTIFERON TB GOLD",
        "71773-6",
        "Mycobacterium tuberculosis stimulated gamma interferon [Interpretation] in Blood "
        "Qualitative",
        15,
        ("QIAGEN",),
        "VEN",
    ),
    LocalCode("TSPOT", "T-SPOT.TB", None, None, 5, ("OXFORD IMMUNOTEC",), "VEN"),
)

CHEMISTRY: tuple[LocalCode, ...] = (
    LocalCode(
        "CHOL", "CHOLESTEROL TOTAL", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 1
    ),
    LocalCode(
        "HDL", "HDL CHOLESTEROL", "2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", 1
    ),
    LocalCode(
        "LDLC",
        "LDL CHOLESTEROL CALC",
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        1,
    ),
    LocalCode(
        "TRIG", "TRIGLYCERIDES", "2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", 1
    ),
    LocalCode(
        "GLUF", "GLUCOSE FASTING", "1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", 1
    ),
    LocalCode("GLU-RND", "GLUCOSE RANDOM FINGERSTICK", None, None, 1),
)

CROSSWALKS: dict[str, tuple[str, tuple[LocalCode, ...]]] = {
    "vaccine_cvx": ("CVX", VACCINES + UNMAPPED_VACCINES + TB_TESTS),
    "tb_loinc": ("LOINC", TB_TESTS),
    "chemistry_loinc": ("LOINC", CHEMISTRY),
}


def crosswalk_tables() -> dict[str, dict]:
    """The crosswalks as the manifest records them: local code -> standard code or None."""
    tables = {}
    for name, (system, codes) in CROSSWALKS.items():
        standard = {c.code: c.standard for c in codes}
        if name == "vaccine_cvx":  # a TB test's LOINC is not a CVX
            standard.update({c.code: None for c in TB_TESTS})
        tables[name] = {
            "system": system,
            "codes": {
                c.code: {
                    "name": c.name,
                    "standard": standard[c.code],
                    "standard_name": c.standard_name if standard[c.code] else None,
                }
                for c in codes
            },
        }
    return tables
