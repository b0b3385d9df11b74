"""``ldedit_core.service.config``: the TOML file, its validation, and ``ldedit serve`` flags on top of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import ldedit_core.service.config as config_module
from ldedit_core.cli.main import build_parser
from ldedit_core.cli.serve_cmd import config_from_args
from ldedit_core.errors import InputError
from ldedit_core.service.config import Peer, Rule, ServiceConfig, load_config

DOC_MARKER = "A file, section by section (every key optional)::"


def doc_example() -> str:
    """The literal TOML block of the module docstring: the indented lines after :data:`DOC_MARKER`."""
    lines = config_module.__doc__.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == DOC_MARKER) + 1
    block: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        block.append(line)
    text = textwrap.dedent("\n".join(block)).strip("\n")
    assert text.startswith("[server]"), "the docstring example no longer starts where expected"
    return text + "\n"


def write(folder: Path, text: str, name: str = "serve.toml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def serve_args(*argv: str):
    return build_parser().parse_args(["serve", *argv])


# --- the documented example -----------------------------------------------------------------------


def test_doc_example_parses_to_the_documented_values(tmp_path):
    cfg = load_config(write(tmp_path, doc_example()))

    assert (cfg.ae_title, cfg.host, cfg.port) == ("LDEDIT", "127.0.0.1", 11112)
    assert cfg.state_dir == Path("ldedit-serve")
    assert cfg.db_path == Path("ldedit-serve/jobs.sqlite")
    assert cfg.spool_dir == Path("ldedit-serve/spool")
    assert cfg.results_dir == Path("ldedit-serve/results")
    assert (cfg.max_associations, cfg.max_pdu) == (32, 16382)
    assert (cfg.acse_timeout, cfg.dimse_timeout, cfg.network_timeout) == (30, 60, 60)
    assert (cfg.min_free_mb, cfg.max_instance_mb, cfg.log_file) == (500, 1024, "")
    # [tls] names files that need not exist: the loader only checks that all three are given
    assert (cfg.tls_cert, cfg.tls_key, cfg.tls_ca) == ("server.pem", "server.key", "ca.pem")
    assert (cfg.completion, cfg.stable_age) == ("stable", 60)
    assert (cfg.workers, cfg.device, cfg.bundle, cfg.max_attempts) == (1, "auto", "default", 2)
    assert cfg.destination == "caller"
    assert (cfg.delivery_attempts, cfg.backoff_initial, cfg.backoff_max) == (8, 10, 600)
    assert cfg.peers == {"ORTHANC": Peer("ORTHANC", "ORTHANC", "127.0.0.1", 4242, True)}
    assert set(cfg.rules) == {"default", "ORTHANC"}
    assert cfg.rules["default"] == Rule("cardiomegaly", 5, 90, 0.9, False, "sc")
    assert cfg.rules["ORTHANC"] == Rule("effusion", 5, 90, 0.9, False, "sc")
    assert cfg.seg_labels == {"pleural effusion": "effusion"}  # keys are matched case-insensitively
    assert cfg.callers() == ["ORTHANC"]
    assert cfg.destination_for("ORTHANC") == cfg.peers["ORTHANC"]


def test_no_file_gives_the_dataclass_defaults():
    cfg = load_config()
    assert cfg == ServiceConfig()
    assert cfg.peers == {} and cfg.rules == {} and cfg.callers() == []
    assert cfg.rule_for("ANYONE") == Rule()


def test_every_section_maps_its_keys_to_the_right_fields(tmp_path):
    # non-default values everywhere, so a key read into the wrong field shows
    path = write(
        tmp_path,
        """
        [server]
        ae_title = "NODE"
        host = "0.0.0.0"
        port = 104
        state_dir = "/var/lib/ldedit"
        max_associations = 3
        max_pdu = 0
        acse_timeout = 5
        dimse_timeout = 6
        network_timeout = 7
        min_free_mb = 8
        max_instance_mb = 9
        log_file = "serve.jsonl"

        [completion]
        mode = "instance"
        stable_age = 2.5

        [worker]
        workers = 4
        device = "cpu"
        bundle = "/models/b"
        max_attempts = 3

        [delivery]
        destination = "ARCHIVE"
        max_attempts = 11
        backoff_initial = 1.5
        backoff_max = 30

        [peers.ARCHIVE]
        ae_title = "PACS_ARCH"
        host = "10.0.0.2"
        port = 11113
        store = false
        """,
    )
    cfg = load_config(path)
    assert (cfg.ae_title, cfg.host, cfg.port, cfg.state_dir) == (
        "NODE",
        "0.0.0.0",
        104,
        Path("/var/lib/ldedit"),
    )
    assert isinstance(cfg.state_dir, Path)
    assert (cfg.max_associations, cfg.max_pdu) == (3, 0)
    assert (cfg.acse_timeout, cfg.dimse_timeout, cfg.network_timeout) == (5, 6, 7)
    assert (cfg.min_free_mb, cfg.max_instance_mb, cfg.log_file) == (8, 9, "serve.jsonl")
    assert (cfg.completion, cfg.stable_age) == ("instance", 2.5)
    assert (cfg.workers, cfg.device, cfg.bundle) == (4, "cpu", "/models/b")
    assert cfg.max_attempts == 3  # [worker] max_attempts
    assert cfg.delivery_attempts == 11  # [delivery] max_attempts: same key name, another field
    assert (cfg.destination, cfg.backoff_initial, cfg.backoff_max) == ("ARCHIVE", 1.5, 30)
    assert cfg.peers["ARCHIVE"] == Peer("ARCHIVE", "PACS_ARCH", "10.0.0.2", 11113, False)
    assert (cfg.tls_cert, cfg.tls_key, cfg.tls_ca) == ("", "", "")
    assert cfg.db_path == Path("/var/lib/ldedit/jobs.sqlite")


def test_peer_defaults_its_ae_title_to_the_table_name_and_host_to_loopback(tmp_path):
    cfg = load_config(write(tmp_path, "[peers.MODALITY]\nport = 5678\n"))
    assert cfg.peers == {"MODALITY": Peer("MODALITY", "MODALITY", "127.0.0.1", 5678, True)}


# --- rules ----------------------------------------------------------------------------------------


def test_rule_table_inherits_unset_keys_from_default(tmp_path):
    path = write(
        tmp_path,
        """
        [rules.default]
        disease = "nodule"
        followups = 3
        interval_days = 30
        target = 0.5
        regress = true
        iod = "source"
        options = {inversion = {w_steps = 5}}

        [rules.CT_ROOM]
        followups = 7

        [rules.ER]
        disease = "effusion"
        regress = false
        """,
    )
    cfg = load_config(path)
    default = cfg.rules["default"]
    assert default == Rule("nodule", 3, 30, 0.5, True, "source", {"inversion": {"w_steps": 5}})
    assert cfg.rules["CT_ROOM"] == Rule("nodule", 7, 30, 0.5, True, "source", {"inversion": {"w_steps": 5}})
    assert cfg.rules["ER"] == Rule("effusion", 3, 30, 0.5, False, "source", {"inversion": {"w_steps": 5}})
    assert cfg.rule_for("ER") is cfg.rules["ER"]
    assert cfg.rule_for("ER  ") is cfg.rules["ER"]  # AE titles arrive space-padded


def test_rule_tables_without_default_start_from_rule_defaults(tmp_path):
    cfg = load_config(write(tmp_path, '[rules.ER]\ndisease = "effusion"\n'))
    assert cfg.rules == {"ER": Rule(disease="effusion")}
    assert cfg.rule_for("OTHER") == Rule()  # no rules.default: the built-in one


def test_rule_for_an_unknown_ae_gives_the_default_rule(tmp_path):
    cfg = load_config(
        write(tmp_path, '[rules.default]\ndisease = "pneumothorax"\n[rules.ER]\nfollowups = 2\n')
    )
    assert cfg.rule_for("STRANGER") is cfg.rules["default"]
    assert cfg.rule_for("STRANGER").disease == "pneumothorax"
    assert cfg.rule_for("ER").followups == 2 and cfg.rule_for("ER").disease == "pneumothorax"


# --- peers: destinations and callers --------------------------------------------------------------


PEERS = """
[peers.ORTHANC]
port = 4242

[peers.WS]
ae_title = "WORKSTATION"
host = "10.1.1.1"
port = 104

[peers.ARCHIVE]
ae_title = "ARCH"
port = 11113
store = false
"""


def test_destination_caller_is_the_peer_with_the_calling_ae_title(tmp_path):
    cfg = load_config(write(tmp_path, PEERS))
    assert cfg.destination == "caller"
    assert cfg.destination_for("WORKSTATION") == Peer("WS", "WORKSTATION", "10.1.1.1", 104, True)
    assert cfg.destination_for("ORTHANC ") == cfg.peers["ORTHANC"]
    assert cfg.peer_by_ae("WS") is None  # by AE title, not by table name


def test_destination_caller_with_an_unknown_caller_is_an_input_error(tmp_path):
    cfg = load_config(write(tmp_path, PEERS))
    with pytest.raises(InputError, match="STRANGER"):
        cfg.destination_for("STRANGER")


def test_named_destination_receives_everything_whoever_called(tmp_path):
    cfg = load_config(write(tmp_path, PEERS + '\n[delivery]\ndestination = "ARCHIVE"\n'))
    assert cfg.destination_for("ORTHANC") == cfg.peers["ARCHIVE"]
    assert cfg.destination_for("STRANGER") == cfg.peers["ARCHIVE"]


def test_callers_excludes_peers_that_may_not_store(tmp_path):
    cfg = load_config(write(tmp_path, PEERS))
    assert cfg.callers() == ["ORTHANC", "WORKSTATION"]
    assert "ARCH" not in cfg.callers()


# --- errors ---------------------------------------------------------------------------------------


BAD_FILES = {
    "invalid TOML": ("[server\nport = 1\n", "not valid TOML"),
    "unknown section": ("[sever]\nport = 1\n", r"unknown section \[sever\]"),
    "unknown key in a section": ("[server]\nprot = 1\n", r"unknown key\(s\) in \[server\]: prot"),
    "unknown key in [worker]": ("[worker]\nthreads = 2\n", r"\[worker\]: threads"),
    "section that is not a table": ("server = 5\n", r"\[server\] must be a table"),
    "peer without port": ('[peers.ORTHANC]\nhost = "127.0.0.1"\n', r"\[peers.ORTHANC\] needs host and port"),
    "peer with an unknown key": ("[peers.ORTHANC]\nport = 1\naet = 'X'\n", r"\[peers.ORTHANC\]"),
    "unknown rule key": (
        '[rules.ER]\ndiseases = "effusion"\n',
        r"unknown key\(s\) in \[rules.ER\]: diseases",
    ),
    "bad completion mode": ('[completion]\nmode = "study"\n', "completion mode 'study'"),
    "partial [tls]": ('[tls]\ncert = "server.pem"\nkey = "server.key"\n', r"\[tls\] needs cert, key and ca"),
    "destination that is not a peer": ('[delivery]\ndestination = "NOWHERE"\n', "'NOWHERE'"),
    "ae_title too long": ('[server]\nae_title = "ABCDEFGHIJKLMNOPQ"\n', "1 to 16 characters"),
    "port out of range": ("[server]\nport = 70000\n", "port 70000 is out of range"),
    "no workers": ("[worker]\nworkers = 0\n", "at least 1"),
    "no delivery attempts": ("[delivery]\nmax_attempts = 0\n", "at least 1"),
    "rule without follow-ups": ("[rules.default]\nfollowups = 0\n", "followups must be >= 1"),
    "rule with an unknown iod": ('[rules.ER]\niod = "ct"\n', "iod"),
}


@pytest.mark.parametrize("text, message", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_bad_file_is_an_input_error_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=message) as info:
        load_config(path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_file_that_is_not_utf8_is_an_input_error(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_bytes(b"\xff\xfe[server]\n")
    with pytest.raises(InputError, match="not valid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_file_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(InputError, match="not found") as info:
        load_config(path)
    assert info.value.path == path and str(path) in str(info.value)


def test_bad_override_is_an_input_error_without_a_file():
    with pytest.raises(InputError, match="completion mode 'batch'") as info:
        load_config(None, completion="batch")
    assert info.value.path is None


def test_unknown_override_is_an_input_error():
    with pytest.raises(InputError, match="bad setting"):
        load_config(None, colour="blue")


WRONG_TYPES = {
    "server port as text": '[server]\nport = "abc"\n',
    "workers as text": '[worker]\nworkers = "two"\n',
    "ae_title as a number": "[server]\nae_title = 5\n",
    "rule followups as text": '[rules.default]\nfollowups = "five"\n',
    "peer port as text": '[peers.A]\nport = "x"\n',
    "[peers] not a table": "peers = 5\n",
    "[rules] not a table": "rules = 5\n",
    "[seg_labels] not a table": "seg_labels = 5\n",
    "peer port out of range": "[peers.A]\nport = 70000\n",
    "peer ae_title over 16 characters": '[peers.A]\nport = 4242\nae_title = "ABCDEFGHIJKLMNOPQ"\n',
}


@pytest.mark.parametrize("text", list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
def test_value_of_the_wrong_type_is_an_input_error_naming_the_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_config(path)
    assert info.value.path == path


# --- flags override the file ----------------------------------------------------------------------


def test_flags_override_the_file_and_none_does_not(tmp_path):
    path = write(tmp_path, '[server]\nport = 4000\nae_title = "FROMFILE"\n[completion]\nstable_age = 12\n')
    cfg = load_config(path, port=1234, ae_title=None, stable_age=None, device="cpu")
    assert cfg.port == 1234  # flag wins
    assert cfg.ae_title == "FROMFILE"  # None = flag not given: the file's value stays
    assert cfg.stable_age == 12
    assert cfg.device == "cpu"  # a flag for a key the file does not set


def test_state_dir_override_becomes_a_path(tmp_path):
    cfg = load_config(None, state_dir=str(tmp_path / "state"))
    assert cfg.state_dir == tmp_path / "state"
    assert cfg.db_path == tmp_path / "state" / "jobs.sqlite"


def test_overrides_are_validated_too(tmp_path):
    with pytest.raises(InputError, match="out of range") as info:
        load_config(write(tmp_path, "[server]\nport = 4000\n"), port=99999)
    assert str(tmp_path) in str(info.value)


# --- ldedit serve flags: config_from_args ---------------------------------------------------------


def test_serve_flags_without_a_file():
    args = serve_args(
        "--ae-title", "EDITOR", "--host", "0.0.0.0", "--port", "2000", "--state-dir", "st",
        "--stable-age", "1.5", "--completion", "instance", "--device", "cpu", "--bundle", "b",
        "--workers", "2", "--log-file", "log.jsonl",
    )  # fmt: skip
    cfg = config_from_args(args)
    assert (cfg.ae_title, cfg.host, cfg.port, cfg.state_dir) == ("EDITOR", "0.0.0.0", 2000, Path("st"))
    assert (cfg.stable_age, cfg.completion, cfg.device, cfg.bundle) == (1.5, "instance", "cpu", "b")
    assert (cfg.workers, cfg.log_file) == (2, "log.jsonl")
    assert cfg.peers == {} and cfg.rules == {}


def test_serve_flags_override_the_config_file(tmp_path):
    path = write(tmp_path, '[server]\nport = 4000\nae_title = "FROMFILE"\n[worker]\ndevice = "cuda"\n')
    cfg = config_from_args(serve_args("--config", str(path), "--port", "5000"))
    assert (cfg.port, cfg.ae_title, cfg.device) == (5000, "FROMFILE", "cuda")


def test_peer_flags_add_peers(tmp_path):
    path = write(tmp_path, "[peers.ORTHANC]\nport = 4242\n")
    cfg = config_from_args(
        serve_args("--config", str(path), "--peer", "PACS@10.0.0.5:104", "--peer", "WS1@ws.local:11112")
    )
    assert cfg.peers["PACS"] == Peer("PACS", "PACS", "10.0.0.5", 104, True)
    assert cfg.peers["WS1"] == Peer("WS1", "WS1", "ws.local", 11112, True)
    assert cfg.peers["ORTHANC"].port == 4242  # the file's peers stay
    assert cfg.callers() == ["ORTHANC", "PACS", "WS1"]
    assert cfg.destination_for("PACS").host == "10.0.0.5"


@pytest.mark.parametrize(
    "text",
    [
        "ORTHANC",
        "ORTHANC@127.0.0.1",
        "ORTHANC@127.0.0.1:port",
        "@127.0.0.1:4242",
        "A" * 17 + "@h:1",
        "ORTHANC:4242",
    ],
)
def test_malformed_peer_flag_is_an_input_error(text):
    with pytest.raises(InputError, match="AET@HOST:PORT"):
        config_from_args(serve_args("--peer", text))


def test_disease_and_followups_flags_make_a_default_rule():
    cfg = config_from_args(serve_args("--disease", "effusion", "--followups", "3"))
    assert cfg.rules == {"default": Rule(disease="effusion", followups=3)}
    assert cfg.rule_for("ANYONE") == Rule(disease="effusion", followups=3)


def test_disease_flag_changes_the_default_rule_from_the_file(tmp_path):
    path = write(tmp_path, '[rules.default]\ndisease = "nodule"\nfollowups = 4\ninterval_days = 30\n')
    cfg = config_from_args(serve_args("--config", str(path), "--disease", "pneumothorax"))
    assert cfg.rules["default"] == Rule(disease="pneumothorax", followups=4, interval_days=30)
    cfg = config_from_args(serve_args("--config", str(path), "--followups", "9"))
    assert cfg.rules["default"] == Rule(disease="nodule", followups=9, interval_days=30)


def test_rule_flags_reach_per_caller_rules_that_inherit_the_key(tmp_path):
    path = write(tmp_path, '[rules.default]\ndisease = "nodule"\n[rules.ER]\ninterval_days = 7\n')
    cfg = config_from_args(serve_args("--config", str(path), "--disease", "effusion"))
    assert cfg.rule_for("ER") == Rule(disease="effusion", interval_days=7)


def test_rule_flags_keep_what_a_per_caller_rule_sets_itself(tmp_path):
    path = write(
        tmp_path, '[rules.default]\ndisease = "nodule"\n[rules.ER]\ndisease = "effusion"\nfollowups = 2\n'
    )
    cfg = config_from_args(serve_args("--config", str(path), "--disease", "pneumothorax", "--followups", "6"))
    assert cfg.rule_for("OTHER") == Rule(disease="pneumothorax", followups=6)
    assert cfg.rule_for("ER") == Rule(disease="effusion", followups=2)
