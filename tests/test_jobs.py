"""Jobs end to end, on the DuckDB sandbox and on a real PostgreSQL schema: create, validate,
dry-run, commit, reconcile, parked rows, waivers, resolve, pause/resume, rollback, gates and
the audit trail. Everything the workbench claims about a target is checked with independent
SQL (the drivers, not the workbench's target code), and what it parks is checked against the
generator's own manifest of the rows it made unloadable."""

from __future__ import annotations

import io
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from commit_trials import (
    ENGINEER,
    ONBOARDER,
    Clinic,
    Raw,
    Target,
    checksums_of,
    cli_env,
    content_of,
    drop_schemas,
    duckdb_target,
    make_clinic,
    pg_target,
    random_schema,
)
from conftest import POSTGRES_URL
from workbench.audit import AuditLog
from workbench.errors import PermissionDenied
from workbench.jobs import api
from workbench.jobs import job as jobs
from workbench.jobs.job import JobError
from workbench.mapping import versions
from workbench.target.prepare import prepare

PEOPLE, SEED = 600, 11
GATE_REASON = "local vaccine codes are translated after go-live (ticket MIG-42)"
WAIVE_REASON = "orphaned records of people who never were patients here; accepted by the clinic"

# A small template of our own: patients only, keys that never collide with ohm's. v1 parks
# patients without a readable birth date on purpose; v2 (the "fix") drops that check.
CLINIC_V1 = """\
template: clinic
title: Patients only (job tests)
target: ehr
rationale: A small template for the job tests; v1 parks patients without a birth date.
gates: {completeness: 0.9, validity: 0.9, referential_integrity: 0.9}
mappings:
  - name: patient
    target: patient
    source: demographics
    key: EMP_ID
    rationale: One patient per registration, prefixed so the keys never collide with ohm's.
    fields:
      patient_id: {expr: "'clinic-' || EMP_ID", rationale: Stable key.}
      identifier: {expr: CAST(EMP_ID AS VARCHAR), rationale: The legacy id.}
      family_name: {expr: normalize_name(LASTNAME), rationale: Capitals and padding.}
      given_name: {expr: normalize_name(FIRSTNAME), rationale: As family_name.}
      birth_date: {expr: parse_past_date(DOB), rationale: Text in several formats.}
      facility_id: {expr: "'main-clinic'", rationale: The tenant's clinic.}
    checks:
      - name: birth_date_known
        assert: "birth_date IS NOT NULL"
        rationale: On purpose, for the tests.
"""
CLINIC_V2 = CLINIC_V1[: CLINIC_V1.index("    checks:")]


# -- fixtures ---------------------------------------------------------------------------------


@dataclass
class Workbench:
    clinic: Clinic
    targets: dict[str, Target]

    @property
    def ws(self):
        return self.clinic.ws

    @property
    def truth(self) -> dict:
        return self.clinic.truth

    def use(self, name: str, request) -> Target:
        """A configured target, its service required (skip or fail per conftest's policy)."""
        target = self.targets[name]
        if target.kind == "postgresql":
            request.getfixturevalue("postgres_url")
            if target.schema not in self.clinic.schemas:
                self.clinic.schemas.append(target.schema)
        return target


def _publish_templates(ws) -> None:
    drafts = ws.mappings_dir / "templates"
    drafts.mkdir(parents=True, exist_ok=True)
    (drafts / "clinic.yaml").write_text(CLINIC_V1)
    assert versions.publish(ws, "template", "clinic").ref == "clinic@v1"
    (drafts / "clinic.yaml").write_text(CLINIC_V2)
    assert versions.publish(ws, "template", "clinic").ref == "clinic@v2"
    # A copy of the ohm module with an impossible gate: every local code must translate.
    # Trimmed to patient and immunization (vaccine codes go through vaccine_cvx) to keep the
    # four projections this test needs cheap.
    yaml = YAML()
    doc = yaml.load((ws.mappings_dir / "published" / "templates" / "ohm@v1.yaml").read_text())
    doc["template"] = "ohm_strict"
    doc["gates"]["code_coverage"] = 1.0
    doc["mappings"] = [m for m in doc["mappings"] if m["name"] in ("patient", "immunization")]
    out = io.StringIO()
    yaml.dump(doc, out)
    (drafts / "ohm_strict.yaml").write_text(out.getvalue())
    assert versions.publish(ws, "template", "ohm_strict").ref == "ohm_strict@v1"


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    schema = random_schema()
    targets = {
        "sandbox": duckdb_target(root / "ws" / "state" / "targets" / "sandbox.duckdb", "sandbox"),
        "pg": pg_target("pg", POSTGRES_URL, schema),
        "pg_aux": pg_target("pg_aux", POSTGRES_URL, f"{schema}_aux"),
    }
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("WORKBENCH_USER", raising=False)  # default_user = analyst
        clinic = make_clinic(root, people=PEOPLE, seed=SEED, targets=list(targets.values()))
        _publish_templates(clinic.ws)
        try:
            yield Workbench(clinic, targets)
        finally:
            if clinic.schemas:
                drop_schemas(POSTGRES_URL, clinic.schemas)


def audit_entries(ws, action: str, job: str | None = None) -> list[dict]:
    return [
        e
        for e in AuditLog(ws).entries()
        if e["action"] == action and (job is None or e["job"] == job)
    ]


def fresh_duckdb(tmp_path: Path, name: str) -> Target:
    return duckdb_target(tmp_path / f"{name}.duckdb")


# -- 2-4. the whole flow, per target -----------------------------------------------------------


@dataclass
class Flow:
    wb: Workbench
    target: Target
    done: set[str] = field(default_factory=set)
    facts: dict[str, Any] = field(default_factory=dict)

    def need(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"needs the step(s) {', '.join(missing)}, which did not pass")

    def raw(self) -> Raw:
        return Raw(self.target)


@pytest.fixture(scope="module", params=["sandbox", "pg"])
def flow(request, wb: Workbench) -> Flow:
    target = wb.use(request.param, request)
    prepare(wb.ws, target.name)
    return Flow(wb, target)


class TestFlow:
    """In order, per target: an earlier job of another template is committed, then the ohm
    job is validated, dry-run, committed, reconciled and rolled back."""

    def test_validate_passes_the_gates(self, flow: Flow):
        ws = flow.wb.ws
        # The earlier job is created first: jobs are numbered in creation order.
        earlier = api.create(ws, "s1", "clinic@v2", flow.target.name)
        job = api.create(ws, "s1", "ohm@v1", flow.target.name)
        v = api.validate(ws, job.id)
        assert v.passed, [g.to_dict() for g in v.gates]
        assert jobs.get(ws, job.id).status == "validated"
        (entry,) = audit_entries(ws, "job.validate", job.id)
        assert entry["outcome"] == "ok" and entry["user"] == ENGINEER
        assert entry["template"]["ref"] == "ohm@v1" and entry["template"]["sha256"]
        assert entry["snapshot"]["fingerprint"] == job.snapshot_fingerprint
        flow.facts.update(earlier=earlier.id, job=job.id)
        flow.done.add("validate")

    def test_dry_run_writes_nothing_into_an_empty_prepared_target(self, flow: Flow):
        flow.need("validate")
        ws, earlier = flow.wb.ws, flow.facts["earlier"]
        before = checksums_of(flow.target)
        dry = api.dry_run(ws, earlier)
        assert checksums_of(flow.target) == before
        people = flow.wb.truth["tables"]["demographics"]["rows"]
        assert dry.tables == {"patient": people}
        assert dry.target_conflicts == {"patient": 0}
        # Then it is committed: the rows of an earlier, different job.
        result = api.commit(ws, earlier)
        assert result.loaded["patient"] == people
        with flow.raw() as raw:
            assert raw.job_counts(earlier)["patient"] == people
            flow.facts["earlier_rows"] = raw.job_checksums(earlier)
        flow.done.add("earlier")

    def test_dry_run_writes_nothing_into_a_target_with_an_earlier_jobs_rows(self, flow: Flow):
        flow.need("earlier")
        ws, job = flow.wb.ws, flow.facts["job"]
        before = checksums_of(flow.target)
        assert before["patient"][0] == flow.wb.truth["tables"]["demographics"]["rows"]
        dry = api.dry_run(ws, job)
        assert checksums_of(flow.target) == before
        assert set(dry.target_conflicts.values()) == {0}
        assert jobs.get(ws, job).status == "validated"  # a dry run changes no status
        # A job whose keys the target already holds: the dry run predicts the collisions.
        again = api.create(ws, "s1", "clinic@v2", flow.target.name)
        people = flow.wb.truth["tables"]["demographics"]["rows"]
        assert api.dry_run(ws, again.id).target_conflicts == {"patient": people}
        assert checksums_of(flow.target) == before
        flow.facts["dry"] = dry
        flow.done.add("dry_run")

    def test_commit_and_reconcile_balance(self, flow: Flow):
        flow.need("dry_run")
        ws, job = flow.wb.ws, flow.facts["job"]
        flow.facts["before_commit"] = checksums_of(flow.target)
        result = api.commit(ws, job)
        assert not result.paused and result.parked_at_load == 0 and result.skipped == 0
        assert jobs.get(ws, job).status == "committed"
        rec, paths = api.reconcile(ws, job)
        assert rec.balanced, rec.discrepancies[:10]
        assert rec.discrepancies == []
        assert jobs.get(ws, job).status == "reconciled"
        assert paths["html"].exists() and paths["json"].exists()
        flow.facts["commit"] = result
        flow.done.add("commit")

    def test_parked_rows_are_the_generators_unloadable_rows(self, flow: Flow):
        flow.need("commit")
        ws, job, truth = flow.wb.ws, flow.facts["job"], flow.wb.truth
        parked = api.parked(ws, job)
        assert set(parked["status"]) == {"parked"}
        per_table = dict(
            parked.select("source_table", "source_key")
            .unique()
            .group_by("source_table")
            .len()
            .iter_rows()
        )
        expected = truth["expected"]["unloadable_rows"]["tables"]
        print(f"{flow.target.name}: parked per source table {per_table}; manifest {expected}")
        assert {t: per_table.get(t, 0) for t in expected} == expected
        assert set(per_table) <= set(expected)
        excluded = flow.facts["dry"].excluded
        assert excluded["rule"].to_list() == ["duplicate_registration"]
        assert excluded["rows"].sum() == truth["dirt"]["duplicate_people"]["rows"]

    def test_target_holds_the_projected_rows_and_no_duplicate_keys(self, flow: Flow):
        flow.need("commit")
        job, projected = flow.facts["job"], flow.facts["dry"].tables
        with flow.raw() as raw:
            counts = raw.job_counts(job)
            duplicates = raw.duplicate_keys()
            keyed = set(raw.primary_keys())
        assert {t: n for t, n in counts.items() if n} == projected
        assert {t: n for t, n in flow.facts["commit"].loaded.items() if n} == projected
        assert set(projected) <= keyed
        assert duplicates and not any(duplicates.values()), duplicates

    def test_rollback_needs_confirmation_and_the_rollback_role(self, flow: Flow, monkeypatch):
        flow.need("commit")
        ws, job = flow.wb.ws, flow.facts["job"]
        with pytest.raises(JobError, match="confirm"):
            api.rollback(ws, job)
        refused = audit_entries(ws, "job.rollback", job)[-1]
        assert refused["outcome"] == "refused" and refused["user"] == ENGINEER
        monkeypatch.setenv("WORKBENCH_USER", ONBOARDER)
        with pytest.raises(PermissionDenied):
            api.rollback(ws, job, confirm=True)
        denied = audit_entries(ws, "rollback")[-1]
        assert (denied["outcome"], denied["user"], denied["role"]) == (
            "refused",
            ONBOARDER,
            "onboarding",
        )
        assert jobs.get(ws, job).status == "reconciled"
        with flow.raw() as raw:
            assert sum(raw.job_counts(job).values()) == sum(flow.facts["dry"].tables.values())

    def test_rollback_restores_the_checksums(self, flow: Flow):
        flow.need("commit")
        ws, job, earlier = flow.wb.ws, flow.facts["job"], flow.facts["earlier"]
        result = api.rollback(ws, job, confirm=True)
        after = checksums_of(flow.target)
        assert after == flow.facts["before_commit"]
        assert result.remaining == 0 and result.checksums_restored is True
        with flow.raw() as raw:
            assert set(raw.job_counts(job).values()) == {0}
            assert raw.markers(job) == 0
            assert raw.job_checksums(earlier) == flow.facts["earlier_rows"]  # untouched
        assert jobs.get(ws, job).status == "rolled_back"
        (entry,) = [e for e in audit_entries(ws, "job.rollback", job) if e["outcome"] == "ok"]
        assert entry["details"]["checksums_restored"] is True


def test_rollback_verdict_follows_the_order_of_commits_not_job_numbers(wb: Workbench, tmp_path):
    """Two jobs on one target, the one created first committed last. Each rollback is exact
    (independent SQL), but the target cannot equal either job's pre-commit checksums any
    more: that is "not comparable" (None), never a failed restore (False)."""
    ws = wb.ws
    target = fresh_duckdb(tmp_path, "order")
    prepare(ws, target.name)
    first = api.create(ws, "s1", "ohm_strict@v1", target.name)  # patient + immunization
    second = api.create(ws, "s1", "clinic@v2", target.name)  # other patient keys
    api.commit(ws, second.id)
    with Raw(target) as raw:
        second_rows = raw.job_counts(second.id)
    api.commit(ws, first.id, override_reason=GATE_REASON)
    with Raw(target) as raw:
        first_rows = raw.job_checksums(first.id)

    result = api.rollback(ws, second.id, confirm=True)
    assert result.deleted["patient"] == second_rows["patient"] > 0
    with Raw(target) as raw:
        assert set(raw.job_counts(second.id).values()) == {0}
        assert raw.job_checksums(first.id) == first_rows
    # The first job loaded after the second one's checksums were taken: not comparable.
    assert result.checksums_restored is None, result

    result = api.rollback(ws, first.id, confirm=True)
    # Its pre-commit checksums held the second job's rows, rolled back since.
    assert result.checksums_restored is None, result
    with Raw(target) as raw:
        assert set(raw.job_counts(first.id).values()) == {0}
        assert raw.count("_workbench_batches") == 0


# -- 5-6. gates and waivers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def gated(wb: Workbench, tmp_path_factory) -> dict:
    target = fresh_duckdb(tmp_path_factory.mktemp("gates"), "gates")
    prepare(wb.ws, target.name)
    job = api.create(wb.ws, "s1", "ohm_strict@v1", target.name)
    return {"target": target, "job": job.id}


class TestGatesAndWaivers:
    def test_a_failing_gate_fails_validate_and_blocks_commit(self, wb: Workbench, gated):
        ws, job = wb.ws, gated["job"]
        v = api.validate(ws, job)
        assert not v.passed
        assert [g.gate for g in v.gates if not g.passed] == ["code_coverage"]
        assert jobs.get(ws, job).status == "gates_failed"
        assert audit_entries(ws, "job.validate", job)[-1]["outcome"] == "failed"
        with pytest.raises(JobError, match="quality gates failed"):
            api.commit(ws, job)
        assert jobs.get(ws, job).status == "gates_failed"
        with Raw(gated["target"]) as raw:
            assert raw.markers(job) == 0 and set(raw.job_counts(job).values()) == {0}

    def test_onboarding_cannot_override(self, wb: Workbench, gated, monkeypatch):
        ws, job = wb.ws, gated["job"]
        monkeypatch.setenv("WORKBENCH_USER", ONBOARDER)
        with pytest.raises(PermissionDenied):
            api.commit(ws, job, override_reason="I am sure")
        denied = audit_entries(ws, "override_gate")[-1]
        assert (denied["outcome"], denied["user"]) == ("refused", ONBOARDER)
        assert not audit_entries(ws, "job.override_gates", job)
        with Raw(gated["target"]) as raw:
            assert raw.markers(job) == 0

    def test_an_engineer_overrides_with_a_reason(self, wb: Workbench, gated):
        ws, job = wb.ws, gated["job"]
        result = api.commit(ws, job, override_reason=GATE_REASON)
        assert not result.paused and result.loaded["immunization"] > 0
        assert jobs.get(ws, job).facts["gate_override"] == {"by": ENGINEER, "reason": GATE_REASON}
        (override,) = audit_entries(ws, "job.override_gates", job)
        assert override["outcome"] == "ok" and override["user"] == ENGINEER
        assert override["role"] == "migration_engineer"
        assert override["details"]["reason"] == GATE_REASON
        assert "code_coverage" in override["details"]["failed"]
        actions = [e["action"] for e in AuditLog(ws).entries() if e["job"] == job]
        assert actions.index("job.override_gates") < actions.index("job.commit")
        gated["committed"] = True

    def test_waive_marks_parked_rows_waived(self, wb: Workbench, gated, monkeypatch):
        if not gated.get("committed"):
            pytest.skip("needs the overridden commit")
        ws, job, rule = wb.ws, gated["job"], "references:patient_id"
        parked = api.parked(ws, job)
        orphans = parked.filter(pl.col("rule") == rule)
        expected = wb.truth["expected"]["unloadable_rows"]["tables"]["immunization"]
        assert orphans.height == expected > 0
        monkeypatch.setenv("WORKBENCH_USER", ONBOARDER)
        with pytest.raises(PermissionDenied):
            api.waive(ws, job, WAIVE_REASON, rule=rule)
        monkeypatch.setenv("WORKBENCH_USER", ENGINEER)
        with pytest.raises(JobError, match="reason"):
            api.waive(ws, job, "  ", rule=rule)
        n = api.waive(ws, job, WAIVE_REASON, rule=rule)
        assert n == orphans.height
        waived = api.parked(ws, job, status="waived")
        assert waived.height == n
        assert set(waived["rule"]) == {rule} and set(waived["note"]) == {WAIVE_REASON}
        assert set(waived["decided_by"]) == {ENGINEER}
        assert api.parked(ws, job, status="parked").height == parked.height - n
        (entry,) = audit_entries(ws, "job.waive", job)
        assert entry["counts"] == {"rows": n}
        assert entry["details"]["reason"] == WAIVE_REASON and entry["details"]["rule"] == rule
        # Waived rows are still accounted for: the job balances.
        rec, _ = api.reconcile(ws, job)
        assert rec.balanced, rec.discrepancies[:10]


# -- 6. resolve after a template fix ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_resolve_loads_the_rows_a_fixed_template_no_longer_parks(
    wb: Workbench, kind: str, tmp_path, request
):
    ws = wb.ws
    target = wb.use("pg_aux", request) if kind == "postgresql" else fresh_duckdb(tmp_path, "r")
    prepare(ws, target.name)
    job = api.create(ws, "s1", "clinic@v1", target.name)
    api.commit(ws, job.id)
    people = wb.truth["tables"]["demographics"]["rows"]
    # The generator wrote this many birth dates that no date can be read from.
    unreadable = wb.truth["expected"]["unparseable_values"]["tables"]["demographics"]["DOB"]
    parked = api.parked(ws, job.id)
    assert parked.height == unreadable > 0
    assert set(parked["rule"]) == {"birth_date_known"}
    with Raw(target) as raw:
        assert raw.job_counts(job.id)["patient"] == people - unreadable

    resolution = api.resolve(ws, job.id, "clinic@v2")
    assert (resolution.reloaded, resolution.still_parked) == (unreadable, 0)
    assert resolution.template_ref == "clinic@v2"
    assert jobs.get(ws, job.id).template_ref == "clinic@v2"
    after = api.parked(ws, job.id)
    assert set(after["status"]) == {"resolved"}
    assert set(after["source_key"]) == set(parked["source_key"])
    with Raw(target) as raw:
        assert raw.job_counts(job.id)["patient"] == people
        loaded = {r[0] for r in raw.rows(f"SELECT _source_key FROM {raw.q('patient')}")}
        assert set(parked["source_key"]) <= loaded
        assert not any(raw.duplicate_keys().values())
    (entry,) = audit_entries(ws, "job.resolve", job.id)
    assert entry["counts"] == {"reloaded": unreadable, "still_parked": 0}
    assert entry["details"] == {"from": "clinic@v1", "to": "clinic@v2"}
    rec, _ = api.reconcile(ws, job.id)
    assert rec.balanced, rec.discrepancies[:10]


# -- 8. pause and resume ------------------------------------------------------------------------


def test_pause_then_resume_loads_what_an_uninterrupted_commit_loads(wb: Workbench, tmp_path):
    ws = wb.ws
    paused, fresh = fresh_duckdb(tmp_path, "paused"), fresh_duckdb(tmp_path, "uninterrupted")
    for t in (paused, fresh):
        prepare(ws, t.name)
    job = api.create(ws, "s1", "ohm@v1", paused.name, batch_size=4000)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(api.commit, ws, job.id)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not running.done():
            if jobs.get(ws, job.id).status == "committing":
                # The same process: this connection shares the committing one's database.
                with Raw(paused) as raw:
                    if raw.markers(job.id):
                        break
            time.sleep(0.05)
        api.pause(ws, job.id)
        first = running.result(timeout=300)
    assert first.paused
    assert jobs.get(ws, job.id).status == "paused"
    with Raw(paused) as raw:
        at_pause = raw.markers(job.id)
        in_target = sum(raw.job_counts(job.id).values())
    print(f"paused after {at_pause} of {first.batches} batches ({in_target} rows)")
    assert 1 <= at_pause < first.batches
    assert in_target == sum(first.loaded.values())
    assert [e["action"] for e in AuditLog(ws).entries() if e["job"] == job.id][-2:] == [
        "job.pause_request",
        "job.pause",
    ]

    second = api.resume(ws, job.id)
    assert not second.paused and second.skipped == at_pause and second.batches == first.batches
    assert in_target < sum(second.loaded.values())
    assert jobs.get(ws, job.id).status == "committed"
    rec, _ = api.reconcile(ws, job.id)
    assert rec.balanced, rec.discrepancies[:10]

    reference = api.create(ws, "s1", "ohm@v1", fresh.name)
    api.commit(ws, reference.id)
    resumed, uninterrupted = content_of(paused), content_of(fresh)
    assert resumed == uninterrupted
    assert resumed["observation"][0] > 0
    with Raw(paused) as raw:
        assert not any(raw.duplicate_keys().values())


# -- 7. the audit log ---------------------------------------------------------------------------


def test_audit_verify_passes_and_a_flipped_byte_fails_naming_the_line(wb: Workbench, tmp_path):
    from workbench.cli import app

    ws = wb.ws
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "-w", str(ws.root)], env=cli_env())
    assert ok.exit_code == 0, (ok.output, ok.exception)
    entries = list(AuditLog(ws).entries())
    assert f"intact: {len(entries)} entries" in ok.stdout
    print(sorted({e["action"] for e in entries}))

    # Damage a copy of the workspace's state (the live one stays usable).
    copy = tmp_path / "ws"
    (copy / "state").mkdir(parents=True)
    shutil.copy(ws.root / "workbench.toml", copy / "workbench.toml")
    for name in ("audit.jsonl", "state.sqlite"):
        shutil.copy(ws.root / "state" / name, copy / "state" / name)
    log = copy / "state" / "audit.jsonl"
    lines = log.read_bytes().split(b"\n")
    number = len(lines) // 2  # a line in the middle (1-based)
    offset = sum(len(line) + 1 for line in lines[: number - 1])
    offset += lines[number - 1].index(b'"user":"') + len(b'"user":"')
    data = bytearray(log.read_bytes())
    data[offset] ^= 0x01  # one bit of one byte: 'a' -> '`' (still JSON)
    log.write_bytes(bytes(data))

    bad = runner.invoke(app, ["audit", "verify", "-w", str(copy)], env=cli_env())
    assert bad.exit_code == 1, (bad.output, bad.exception)
    assert f"state/audit.jsonl:{number}: entry" in bad.stdout, bad.output
    assert f"state/audit.jsonl:{number + 1}:" not in bad.stdout, bad.output
