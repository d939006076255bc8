"""Measurements with plausible distributions: hearing, vital signs, spirometry, TB tests,
chemistry and vision. Inputs are per-row numpy arrays; outputs are dicts of arrays (NaN for
a value that was not measured)."""

from __future__ import annotations

import numpy as np

FREQUENCIES = (500, 1000, 2000, 3000, 4000, 6000, 8000)
# hearing lost to age by 65 (dB), and the shape of a noise notch, per frequency
_PRESBYCUSIS_65 = np.array([8, 9, 14, 22, 30, 36, 42])
_NOISE_NOTCH = np.array([0, 1, 4, 12, 20, 14, 7])


def audiogram(
    rng: np.random.Generator, age: np.ndarray, exposure: np.ndarray, person_offset: np.ndarray
) -> dict[str, np.ndarray]:
    """Thresholds in dB HL per ear and frequency, on the audiometer's 5 dB steps.

    ``exposure`` is 0 for quiet work and grows with years in noise; keys are "R500" ... "L8000".
    """
    n = len(age)
    aging = (np.clip((age - 20) / 45, 0, None) ** 2)[:, None] * _PRESBYCUSIS_65[None, :]
    notch = exposure[:, None] * _NOISE_NOTCH[None, :]
    out = {}
    no_8k = rng.random(n) < 0.12  # older audiometers stopped at 6000 Hz
    for ear, asym in (("R", 0.0), ("L", 2.0)):  # the left ear often fares worse
        raw = aging + notch * (1 + asym / 10) + person_offset[:, None] + rng.normal(0, 4.5, (n, 7))
        db = np.clip(np.round(raw / 5) * 5, -10, 110)
        for j, f in enumerate(FREQUENCIES):
            out[f"{ear}{f}"] = np.where(no_8k & (f == 8000), np.nan, db[:, j])
    return out


def vitals(
    rng: np.random.Generator,
    male: np.ndarray,
    age: np.ndarray,
    height_in: np.ndarray,
    bmi: np.ndarray,
) -> dict[str, np.ndarray]:
    n = len(age)
    height = np.round(height_in + rng.normal(0, 0.4, n), 1)
    weight = np.round(bmi * (1 + rng.normal(0, 0.035, n)) * height**2 / 703, 1)
    measured_height = rng.random(n) < 0.8
    systolic = np.clip(
        112 + 0.45 * (age - 30) + 0.7 * (bmi - 25) + 4 * male + rng.normal(0, 12, n), 86, 218
    ).round()
    diastolic = np.clip(0.55 * systolic + 8 + rng.normal(0, 7, n), 46, 128).round()
    return {
        "height": np.where(measured_height, height, np.nan),
        "weight": weight,
        "bmi": np.where(measured_height, np.round(703 * weight / height**2, 1), np.nan),
        "systolic": systolic,
        "diastolic": diastolic,
        "pulse": np.clip(rng.normal(74, 10, n), 44, 138).round(),
        "resp": rng.choice([12, 14, 16, 16, 18, 18, 20], n),
        "temp_f": np.where(rng.random(n) < 0.7, np.round(rng.normal(98.2, 0.45, n), 1), np.nan),
    }


def spirometry(
    rng: np.random.Generator,
    male: np.ndarray,
    age: np.ndarray,
    height_in: np.ndarray,
    smoker: np.ndarray,
) -> dict[str, np.ndarray]:
    """FVC and FEV1 in litres against simple reference equations, and the interpretation
    they imply (ratio below 70 % reads obstruction; FVC below 80 % predicted, restriction)."""
    n = len(age)
    h = height_in * 2.54
    fvc_pred = np.where(male, 0.0576 * h - 0.0269 * age - 4.34, 0.0443 * h - 0.026 * age - 2.89)
    fev1_pred = np.where(male, 0.0414 * h - 0.0244 * age - 2.19, 0.0342 * h - 0.0255 * age - 1.578)
    fvc_pred = np.clip(fvc_pred, 1.2, None)
    fev1_pred = np.clip(fev1_pred, 1.0, None)
    fvc = np.clip(fvc_pred * rng.normal(0.98, 0.11, n), 0.8, None)
    ratio = np.clip(rng.normal(0.80, 0.06, n) - 0.09 * smoker, 0.35, 0.95)
    fev1 = fvc * ratio
    fvc, fev1 = np.round(fvc, 2), np.round(fev1, 2)
    ratio_pct = np.round(100 * fev1 / fvc, 1)
    fvc_pct = np.round(100 * fvc / fvc_pred)
    poor_effort = rng.random(n) < 0.03
    interpretation = np.where(
        poor_effort, 3, np.where(ratio_pct < 70, 1, np.where(fvc_pct < 80, 2, 0))
    )
    return {
        "fvc": fvc,
        "fvc_pred": np.round(fvc_pred, 2),
        "fvc_pct": fvc_pct,
        "fev1": fev1,
        "fev1_pred": np.round(fev1_pred, 2),
        "fev1_pct": np.round(100 * fev1 / fev1_pred),
        "ratio": ratio_pct,
        "interpretation": interpretation,
    }


SPIROMETRY_READINGS = ("NORMAL", "OBSTRUCTION", "POSSIBLE RESTRICTION", "INVALID EFFORT")


def tb_skin_test(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Mantoux: read 48-72 h after placing; induration in mm; 10 mm or more is positive."""
    read_after = rng.choice([2, 2, 3, 3, 3, 4], n)
    not_read = rng.random(n) < 0.04
    reactive = rng.random(n) < 0.07
    mm = np.where(reactive, np.clip(np.round(rng.lognormal(np.log(9), 0.5, n)), 2, 30), 0)
    result = np.where(not_read, 2, np.where(mm >= 10, 1, 0))
    return {
        "read_after": read_after,
        "not_read": not_read,
        "induration": np.where(not_read, np.nan, mm),
        "result": result,
    }


TB_RESULTS = ("NEGATIVE", "POSITIVE", "NOT READ", "INDETERMINATE")


def igra(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """An interferon-gamma release assay: TB antigen minus nil in IU/mL; 0.35 or more is
    positive; a low mitogen response makes it indeterminate."""
    value = np.round(
        np.where(rng.random(n) < 0.06, rng.lognormal(0, 1, n), rng.exponential(0.06, n)), 2
    )
    indeterminate = rng.random(n) < 0.02
    return {"value": value, "result": np.where(indeterminate, 3, np.where(value >= 0.35, 1, 0))}


def chemistry(
    rng: np.random.Generator, analyte: np.ndarray, male: np.ndarray, bmi: np.ndarray
) -> np.ndarray:
    """mg/dL values for the analytes of codes.CHEMISTRY, by their index in that tuple."""
    n = len(analyte)
    chol = rng.normal(196, 36, n) + 0.8 * (bmi - 27)
    hdl = np.clip(rng.normal(58 - 10 * male, 13, n) - 0.5 * (bmi - 27), 22, 110)
    trig = np.clip(rng.lognormal(np.log(128), 0.45, n) + 2 * (bmi - 27), 35, 900)
    ldl = np.clip(chol - hdl - trig / 5, 30, None)
    fasting = np.clip(rng.lognormal(np.log(94), 0.12, n) + 0.6 * (bmi - 27), 60, 350)
    random_gl = fasting + rng.normal(14, 12, n)
    table = np.stack([chol, hdl, ldl, trig, fasting, random_gl], axis=1)
    return np.round(table[np.arange(n), analyte])


SNELLEN = ("20/15", "20/20", "20/25", "20/30", "20/40", "20/50", "20/70", "20/100", "20/200")
SNELLEN_WEIGHTS = (8, 40, 18, 11, 9, 5, 4, 3, 2)
JAEGER = ("J1", "J1+", "J2", "J3", "J5", "J7")
