"""``ldedit_core.service.store.JobStore``: the SQLite job queue the service and ``ldedit jobs`` share."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ldedit_core.service.store import JobStore

CR = "1.2.840.10008.5.1.4.1.1.1"
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
T0 = 1_000_000.0  # a fixed clock: every test passes ``now`` explicitly where timing matters


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "state" / "jobs.sqlite")
    yield s
    s.close()


def add(store: JobStore, sop: str, study: str = "1.2.3", *, ae: str = "ORTHANC", mode: str = "stable", **kw):
    """Record instance ``sop`` of ``study`` as spooled under ``spool/<study>/<sop>.dcm``."""
    return store.add_instance(
        sop_uid=sop,
        study_uid=study,
        series_uid=kw.pop("series", f"{study}.1"),
        sop_class=kw.pop("sop_class", CR),
        path=Path("spool") / study / f"{sop}.dcm",
        calling_ae=ae,
        mode=mode,
        **kw,
    )


def test_creates_the_database_and_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "jobs.sqlite"
    s = JobStore(path)
    try:
        assert path.is_file()
        assert s.jobs() == [] and s.counts() == {}
        assert s.get(1) is None and s.instance_job("9.9") is None
    finally:
        s.close()


# --- stable mode: one job per study and caller ----------------------------------------------------


def test_stable_mode_groups_a_studys_instances_into_one_received_job(store):
    j1 = add(store, "1.2.3.1", now=T0)
    j2 = add(store, "1.2.3.2", now=T0 + 1)
    j3 = add(store, "1.2.3.3", series="1.2.3.2", now=T0 + 2)
    assert j1 == j2 == j3 and isinstance(j1, int)
    (job,) = store.jobs()
    assert (job.id, job.study_uid, job.calling_ae, job.state) == (j1, "1.2.3", "ORTHANC", "received")
    assert (job.attempts, job.send_attempts, job.last_error, job.not_before) == (0, 0, "", 0)
    assert job.created == T0 and job.last_instance == T0 + 2
    instances = store.instances(j1)
    assert [i.sop_uid for i in instances] == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]  # in order of receipt
    assert instances[2].series_uid == "1.2.3.2" and instances[2].sop_class == CR
    assert instances[0].path == Path("spool/1.2.3/1.2.3.1.dcm") and instances[0].job_id == j1
    assert store.instance_job("1.2.3.2") == job
    assert store.counts() == {"received": 1}


def test_another_study_or_another_caller_is_another_job(store):
    a = add(store, "1.1", study="1.2.3", ae="ORTHANC", now=T0)
    b = add(store, "2.1", study="4.5.6", ae="ORTHANC", now=T0)
    c = add(store, "1.2", study="1.2.3", ae="WORKSTATION", now=T0)
    assert len({a, b, c}) == 3
    jobs = {j.id: j for j in store.jobs()}
    assert (jobs[a].study_uid, jobs[a].calling_ae) == ("1.2.3", "ORTHANC")
    assert (jobs[b].study_uid, jobs[b].calling_ae) == ("4.5.6", "ORTHANC")
    assert (jobs[c].study_uid, jobs[c].calling_ae) == ("1.2.3", "WORKSTATION")
    assert [i.sop_uid for i in store.instances(a)] == ["1.1"]
    assert [i.sop_uid for i in store.study_instances("1.2.3")] == ["1.1", "1.2"]


def test_an_instance_after_the_study_was_queued_opens_a_new_job(store):
    first = add(store, "1.1", now=T0)
    assert store.promote_stable(10, now=T0 + 20) == [first]
    second = add(store, "1.2", now=T0 + 30)
    assert second != first
    assert store.get(first).state == "queued" and store.get(second).state == "received"
    assert [i.sop_uid for i in store.instances(second)] == ["1.2"]


def test_promote_stable_queues_only_studies_quiet_long_enough(store):
    old = add(store, "1.1", study="1", now=T0)
    add(store, "1.2", study="1", now=T0 + 50)  # the study's clock restarts with every instance
    recent = add(store, "2.1", study="2", now=T0 + 55)
    assert store.promote_stable(60, now=T0 + 100) == []
    assert store.promote_stable(60, now=T0 + 110) == [old]  # 60 s after its last instance: exactly due
    assert store.get(old).state == "queued" and store.get(old).updated == T0 + 110
    assert store.get(recent).state == "received"
    assert store.promote_stable(60, now=T0 + 116) == [recent]
    assert store.promote_stable(60, now=T0 + 1000) == []  # only received jobs are promoted
    assert store.counts() == {"queued": 2}


# --- claiming work --------------------------------------------------------------------------------


def test_claim_takes_the_oldest_due_job_and_counts_the_attempt(store):
    a = add(store, "1.1", study="1", mode="instance", now=T0)
    b = add(store, "2.1", study="2", mode="instance", now=T0)
    job = store.claim("queued", "running", now=T0 + 1)
    assert job.id == a and job.state == "running" and job.attempts == 1 and job.updated == T0 + 1
    assert store.get(a) == job
    assert store.claim("queued", "running", now=T0 + 1).id == b
    assert store.claim("queued", "running", now=T0 + 1) is None
    assert store.counts() == {"running": 2}


def test_claim_counts_attempts_only_when_starting_to_run(store):
    a = add(store, "1.1", mode="instance", now=T0)
    store.claim("queued", "running", now=T0)
    store.update(a, state="sending")
    job = store.claim("sending", "sending", now=T0)
    assert job.id == a and job.attempts == 1  # delivery has its own counter (send_attempts)
    store.update(a, state="queued")
    assert store.claim("queued", "running", now=T0).attempts == 2


def test_claim_respects_not_before(store):
    a = add(store, "1.1", study="1", mode="instance", now=T0)
    b = add(store, "2.1", study="2", mode="instance", now=T0)
    store.update(a, not_before=T0 + 100)  # backing off
    assert store.claim("queued", "running", now=T0 + 10).id == b  # the older job is not due yet
    assert store.claim("queued", "running", now=T0 + 10) is None
    job = store.claim("queued", "running", now=T0 + 100)
    assert job.id == a and job.attempts == 1


def test_claim_of_a_received_study_needs_promotion_first(store):
    add(store, "1.1", now=T0)
    assert store.claim("queued", "running", now=T0 + 1000) is None


def test_recover_requeues_running_jobs_only(store):
    ids = [add(store, f"{k}.1", study=str(k), mode="instance", now=T0) for k in range(5)]
    store.claim("queued", "running", now=T0)
    store.claim("queued", "running", now=T0)
    store.update(ids[1], not_before=T0 + 500)
    store.update(ids[2], state="sending")
    store.update(ids[3], state="failed", last_error="boom")
    received = add(store, "9.1", study="9", now=T0)
    assert store.recover() == [ids[0], ids[1]]
    states = {j.id: j.state for j in store.jobs()}
    assert states == {
        ids[0]: "queued",
        ids[1]: "queued",
        ids[2]: "sending",
        ids[3]: "failed",
        ids[4]: "queued",
        received: "received",
    }
    assert store.get(ids[1]).not_before == 0  # due at once after a restart
    assert store.get(ids[0]).attempts == 1  # the interrupted attempt still counts
    assert store.get(ids[3]).last_error == "boom"
    assert store.recover() == []


# --- duplicates -----------------------------------------------------------------------------------


def test_duplicate_in_a_received_job_only_refreshes_its_clock(store):
    job_id = add(store, "1.1", now=T0)
    add(store, "1.2", now=T0 + 5)
    assert add(store, "1.1", now=T0 + 40) == job_id
    assert len(store.jobs()) == 1
    assert [i.sop_uid for i in store.instances(job_id)] == ["1.1", "1.2"]  # no new row
    job = store.get(job_id)
    assert job.last_instance == T0 + 40 and job.updated == T0 + 40
    assert store.promote_stable(60, now=T0 + 90) == []  # the duplicate restarted the quiet period
    assert store.promote_stable(60, now=T0 + 100) == [job_id]


def test_duplicate_of_a_queued_job_changes_nothing(store):
    job_id = add(store, "1.1", now=T0)
    store.promote_stable(0, now=T0 + 1)
    before = store.get(job_id)
    assert add(store, "1.1", now=T0 + 50) == job_id
    assert store.get(job_id) == before
    assert len(store.jobs()) == 1


def test_duplicate_of_an_instance_whose_job_is_done_starts_a_new_job(store):
    old = add(store, "1.1", now=T0)
    add(store, "1.2", now=T0)
    store.promote_stable(0, now=T0)
    store.claim("queued", "running", now=T0)
    store.update(old, state="done")
    new = add(store, "1.1", now=T0 + 100)
    assert new != old
    assert store.get(new).state == "received" and store.get(new).created == T0 + 100
    assert store.instance_job("1.1").id == new
    assert [i.sop_uid for i in store.instances(new)] == ["1.1"]
    assert [i.sop_uid for i in store.instances(old)] == ["1.2"]  # the instance moved, the other stays
    assert [i.sop_uid for i in store.study_instances("1.2.3")].count("1.1") == 1


# --- instance and lookup modes --------------------------------------------------------------------


def test_instance_mode_queues_a_job_per_image_at_once(store):
    a = add(store, "1.1", mode="instance", now=T0)
    b = add(store, "1.2", mode="instance", now=T0)
    assert a != b
    assert [j.state for j in store.jobs()] == ["queued", "queued"]
    assert [i.sop_uid for i in store.instances(a)] == ["1.1"]
    assert [i.sop_uid for i in store.instances(b)] == ["1.2"]
    assert store.claim("queued", "running", now=T0).id == a  # no promotion needed


def test_lookup_mode_records_an_instance_under_no_job(store):
    assert add(store, "1.9", mode="lookup", sop_class=SEG, series="1.2.3.99", now=T0) is None
    assert store.jobs() == []
    assert store.instance_job("1.9") is None
    job_id = add(store, "1.1", mode="instance", now=T0 + 1)
    assert [i.sop_uid for i in store.instances(job_id)] == ["1.1"]
    found = store.study_instances("1.2.3")
    assert [(i.sop_uid, i.job_id, i.sop_class) for i in found] == [("1.9", None, SEG), ("1.1", job_id, CR)]
    assert found[0].series_uid == "1.2.3.99" and found[0].path == Path("spool/1.2.3/1.9.dcm")
    assert store.study_instances("4.5.6") == []


def test_lookup_duplicate_stays_under_no_job(store):
    add(store, "1.9", mode="lookup", now=T0)
    assert add(store, "1.9", mode="lookup", now=T0 + 1) is None
    assert len(store.study_instances("1.2.3")) == 1 and store.jobs() == []


# --- retry and update -----------------------------------------------------------------------------


def test_retry_resets_the_counters_and_queues(store):
    job_id = add(store, "1.1", mode="instance", now=T0)
    store.claim("queued", "running", now=T0)
    store.update(job_id, state="failed", last_error="C-STORE refused", send_attempts=8, not_before=T0 + 900)
    failed = store.get(job_id)
    assert (failed.state, failed.attempts, failed.send_attempts, failed.last_error) == (
        "failed", 1, 8, "C-STORE refused"
    )  # fmt: skip
    job = store.retry(job_id)
    assert (job.state, job.attempts, job.send_attempts, job.not_before, job.last_error) == (
        "queued",
        0,
        0,
        0,
        "",
    )
    assert job == store.get(job_id)
    assert store.claim("queued", "running", now=T0).id == job_id


def test_retry_of_an_unknown_job_is_a_key_error(store):
    with pytest.raises(KeyError):
        store.retry(42)
    assert store.jobs() == []


def test_update_sets_the_allowed_columns(store):
    job_id = add(store, "1.1", mode="instance", now=T0)
    store.update(job_id, state="sending", last_error="x", not_before=5.0, send_attempts=3, attempts=2)
    job = store.get(job_id)
    assert (job.state, job.last_error, job.not_before, job.send_attempts, job.attempts) == (
        "sending",
        "x",
        5,
        3,
        2,
    )
    assert job.updated > T0  # stamped with the real clock


@pytest.mark.parametrize(
    "fields",
    [
        {"state": "exploded"},
        {"study_uid": "6.6.6"},
        {"calling_ae": "EVIL"},
        {"id": 7},
        {"state": "done", "created": 0},
    ],
    ids=["unknown state", "study_uid", "calling_ae", "id", "valid state with a bad column"],
)
def test_update_rejects_an_unknown_state_or_column(store, fields):
    job_id = add(store, "1.1", mode="instance", now=T0)
    before = store.get(job_id)
    with pytest.raises(ValueError, match="cannot set"):
        store.update(job_id, **fields)
    assert store.get(job_id) == before


# --- delivery bookkeeping -------------------------------------------------------------------------


def test_mark_sent_and_sent_items_are_idempotent_per_job(store):
    a = add(store, "1.1", study="1", mode="instance", now=T0)
    b = add(store, "2.1", study="2", mode="instance", now=T0)
    assert store.sent_items(a) == set()
    store.mark_sent(a, "followup-1/image.dcm")
    store.mark_sent(a, "followup-1/image.dcm")
    store.mark_sent(a, "roi.dcm")
    assert store.sent_items(a) == {"followup-1/image.dcm", "roi.dcm"}
    assert store.sent_items(a) == store.sent_items(a)
    assert store.sent_items(b) == set()
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM sent").fetchone()[0] == 2


# --- durability and concurrency -------------------------------------------------------------------


def test_data_survives_closing_and_reopening(tmp_path):
    path = tmp_path / "jobs.sqlite"
    s = JobStore(path)
    received = add(s, "1.1", study="1", now=T0)
    failed = add(s, "2.1", study="2", mode="instance", now=T0)
    s.update(failed, state="failed", last_error="no space")
    s.mark_sent(failed, "roi.dcm")
    add(s, "3.9", study="3", mode="lookup", now=T0)
    jobs = s.jobs()
    s.close()

    s = JobStore(path)
    try:
        assert s.jobs() == jobs
        assert s.get(failed).last_error == "no space"
        assert s.sent_items(failed) == {"roi.dcm"}
        assert [i.sop_uid for i in s.instances(received)] == ["1.1"]
        assert [i.job_id for i in s.study_instances("3")] == [None]
        assert add(s, "1.2", study="1", now=T0 + 1) == received  # the open study is still open
    finally:
        s.close()


def test_database_is_in_wal_mode(store):
    with sqlite3.connect(store.path) as db:  # as ``ldedit jobs`` reads it while the server runs
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_another_connection_reads_committed_data(store):
    job_id = add(store, "1.1", mode="instance", now=T0)
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT id, state FROM jobs").fetchall() == [(job_id, "queued")]


def test_concurrent_adds_from_two_threads(store):
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def receive(study: str) -> None:
        try:
            start.wait()
            for k in range(50):
                add(store, f"{study}.{k}", study=study)
        except BaseException as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=receive, args=(s,)) for s in ("1.1", "2.2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert not any(t.is_alive() for t in threads)
    jobs = store.jobs()
    assert len(jobs) == 2 and {j.study_uid for j in jobs} == {"1.1", "2.2"}
    assert all(j.state == "received" for j in jobs)
    assert sorted(len(store.instances(j.id)) for j in jobs) == [50, 50]
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 100


def test_an_instance_sent_again_after_its_job_failed_is_a_new_request(tmp_path):
    s = JobStore(tmp_path / "jobs.sqlite")
    first = add(s, "9.1", study="9", now=T0)
    s.update(first, state="failed", last_error="no frontal image")
    second = add(s, "9.1", study="9", now=T0 + 60)
    assert second != first and s.get(second).state == "received"
    assert [i.sop_uid for i in s.instances(second)] == ["9.1"] and s.instances(first) == []
