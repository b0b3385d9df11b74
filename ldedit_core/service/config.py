"""``ldedit serve`` settings: one TOML file (see docs/pacs.md), flags override it.

A file, section by section (every key optional)::

    [server]                  # the DICOM node
    ae_title = "LDEDIT"
    host = "127.0.0.1"        # loopback by default: open it to the network on purpose
    port = 11112
    state_dir = "ldedit-serve"  # spool/, results/, jobs.sqlite
    max_associations = 32      # more at once are rejected (local limit exceeded)
    max_pdu = 16382           # bytes; 0 = unlimited
    acse_timeout = 30         # seconds
    dimse_timeout = 60
    network_timeout = 60
    min_free_mb = 500         # refuse (Out of Resources) below this much free disk
    max_instance_mb = 1024    # refuse larger instances (Out of Resources)
    log_file = ""             # JSON lines; empty = stderr

    [tls]                     # optional: all three paths, or leave the section out
    cert = "server.pem"
    key = "server.key"
    ca = "ca.pem"             # callers must present a certificate signed by it

    [completion]
    mode = "stable"           # "stable": a study is complete after `stable_age` quiet seconds
    stable_age = 60           #   (Orthanc's StableAge); "instance": each image is a job at once

    [worker]
    workers = 1               # edits run at once (each holds one model on the device)
    device = "auto"
    bundle = "default"        # name or folder
    max_attempts = 2          # a job that raises is retried this many times in all

    [delivery]
    destination = "caller"    # or the name of a peer below
    max_attempts = 8          # C-STORE attempts before the job is marked failed (files kept)
    backoff_initial = 10      # seconds, doubled after every failure ...
    backoff_max = 600         # ... up to this

    [peers.ORTHANC]           # known nodes; only they may open associations
    ae_title = "ORTHANC"      # default: the table's name
    host = "127.0.0.1"
    port = 4242
    store = true              # may it send us studies? (false: a destination only)

    [rules.default]           # what to make of a study without a DICOM SEG
    disease = "cardiomegaly"
    followups = 5
    interval_days = 90
    target = 0.9
    regress = false
    iod = "sc"                # "sc" (Secondary Capture) or "source" (the source's IOD)

    [rules.ORTHANC]           # per calling AE title; unset keys come from rules.default
    disease = "effusion"

    [seg_labels]              # DICOM SEG segment label -> disease (a bundle disease name matches itself)
    "Pleural effusion" = "effusion"
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldedit_core.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Peer:
    """A DICOM node LDEdit knows: it may call us (``store``) and receive results."""

    name: str
    ae_title: str
    host: str
    port: int
    store: bool = True


@dataclass(frozen=True)
class Rule:
    """What to synthesize for a study that carries no DICOM SEG (or for keys the SEG does not give)."""

    disease: str = "cardiomegaly"
    followups: int = 5
    interval_days: float = 90.0
    target: float = 0.9
    regress: bool = False
    iod: str = "sc"
    options: dict = field(default_factory=dict)  # ldedit_core.pipeline.EditOptions keywords


@dataclass
class ServiceConfig:
    """Everything ``ldedit serve`` needs; :func:`load_config` builds it from TOML and flags."""

    ae_title: str = "LDEDIT"
    host: str = "127.0.0.1"
    port: int = 11112
    state_dir: Path = Path("ldedit-serve")
    max_associations: int = 32
    max_pdu: int = 16382
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 60.0
    min_free_mb: float = 500.0
    max_instance_mb: float = 1024.0
    log_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_ca: str = ""
    completion: str = "stable"
    stable_age: float = 60.0
    workers: int = 1
    device: str = "auto"
    bundle: str = "default"
    max_attempts: int = 2
    destination: str = "caller"
    delivery_attempts: int = 8
    backoff_initial: float = 10.0
    backoff_max: float = 600.0
    peers: dict[str, Peer] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    seg_labels: dict[str, str] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.state_dir / "jobs.sqlite"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def results_dir(self) -> Path:
        return self.state_dir / "results"

    def rule_for(self, calling_ae: str) -> Rule:
        """The caller's rule, with unset keys taken from ``rules.default``."""
        return self.rules.get(calling_ae.strip(), self.rules.get("default", Rule()))

    def peer_by_ae(self, ae_title: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.ae_title == ae_title.strip()), None)

    def destination_for(self, calling_ae: str) -> Peer:
        """Where a job's results go: the configured peer, or back to the caller."""
        if self.destination != "caller":
            return self.peers[self.destination]
        peer = self.peer_by_ae(calling_ae)
        if peer is None:
            raise InputError(f"no [peers] entry for calling AE {calling_ae!r}: nowhere to send the results")
        return peer

    def callers(self) -> list[str]:
        """AE titles allowed to open an association (all others are rejected by the ACSE)."""
        return sorted({p.ae_title for p in self.peers.values() if p.store})


_SECTIONS: dict[str, dict[str, str]] = {
    "server": {
        "ae_title": "ae_title",
        "host": "host",
        "port": "port",
        "state_dir": "state_dir",
        "max_associations": "max_associations",
        "max_pdu": "max_pdu",
        "acse_timeout": "acse_timeout",
        "dimse_timeout": "dimse_timeout",
        "network_timeout": "network_timeout",
        "min_free_mb": "min_free_mb",
        "max_instance_mb": "max_instance_mb",
        "log_file": "log_file",
    },
    "tls": {"cert": "tls_cert", "key": "tls_key", "ca": "tls_ca"},
    "completion": {"mode": "completion", "stable_age": "stable_age"},
    "worker": {"workers": "workers", "device": "device", "bundle": "bundle", "max_attempts": "max_attempts"},
    "delivery": {
        "destination": "destination",
        "max_attempts": "delivery_attempts",
        "backoff_initial": "backoff_initial",
        "backoff_max": "backoff_max",
    },
}


def load_config(path: str | Path | None = None, **overrides: Any) -> ServiceConfig:
    """Read the TOML file (if any), apply ``overrides`` (flag values; ``None`` = not given), validate.

    Raises:
        InputError: naming the file and the key for a syntax error, an unknown key or a bad value.
    """
    where = Path(path) if path is not None else None
    values: dict[str, Any] = {}
    peers: dict[str, Peer] = {}
    rules: dict[str, Rule] = {}
    seg_labels: dict[str, str] = {}
    if where is not None:
        try:
            data = tomllib.loads(where.read_text())
        except FileNotFoundError:
            raise InputError("configuration file not found", where) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"not valid TOML: {e}", where) from None
        for section, table in data.items():
            if section in _SECTIONS:
                values.update(_section(table, _SECTIONS[section], section, where))
            elif section == "peers":
                _table(table, "peers", where)
                peers = {name: _peer(name, t, where) for name, t in table.items()}
            elif section == "rules":
                rules = _rules(table, where)
            elif section == "seg_labels":
                _table(table, "seg_labels", where)
                seg_labels = {str(k).strip().lower(): str(v) for k, v in table.items()}
            else:
                raise InputError(f"unknown section [{section}]", where)
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = ServiceConfig(**values, peers=peers, rules=rules, seg_labels=seg_labels)
    except TypeError as e:
        raise InputError(f"bad setting: {e}", where) from None
    cfg.state_dir = Path(cfg.state_dir)
    _validate(cfg, where)
    return cfg


def _section(table: Any, keys: dict[str, str], section: str, where: Path) -> dict[str, Any]:
    _table(table, section, where)
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise InputError(f"unknown key(s) in [{section}]: {', '.join(unknown)}", where)
    defaults = ServiceConfig()
    return {keys[k]: _typed(v, getattr(defaults, keys[k]), f"{section}.{k}", where) for k, v in table.items()}


def _table(value: Any, name: str, where: Path | None) -> None:
    if not isinstance(value, dict):
        raise InputError(f"[{name}] must be a table", where)


def _typed(value: Any, like: Any, key: str, where: Path | None) -> Any:
    """``value`` if it has the type of the default ``like`` (an int passes for a float, text for a path)."""
    if isinstance(like, bool):
        ok = isinstance(value, bool)
    elif isinstance(like, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(like, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(like, str | Path):
        ok = isinstance(value, str | Path)
    else:
        ok = isinstance(value, type(like))
    if not ok:
        raise InputError(f"{key} = {value!r}: expected {type(like).__name__}", where)
    return float(value) if isinstance(like, float) else value


def _peer(name: str, table: dict, where: Path) -> Peer:
    allowed = {"ae_title", "host", "port", "store"}
    if not isinstance(table, dict) or set(table) - allowed or "port" not in table:
        raise InputError(f"[peers.{name}] needs host and port (keys: {', '.join(sorted(allowed))})", where)
    peer = Peer(
        name=name,
        ae_title=_typed(table.get("ae_title", name), "", f"peers.{name}.ae_title", where),
        host=_typed(table.get("host", "127.0.0.1"), "", f"peers.{name}.host", where),
        port=_typed(table["port"], 0, f"peers.{name}.port", where),
        store=_typed(table.get("store", True), True, f"peers.{name}.store", where),
    )
    if not 1 <= len(peer.ae_title.strip()) <= 16 or not 1 <= peer.port <= 65535:
        raise InputError(f"[peers.{name}]: AE title must be 1 to 16 characters and port 1 to 65535", where)
    return peer


def _rules(tables: Any, where: Path) -> dict[str, Rule]:
    """Rules by calling AE title; each starts from ``rules.default`` and overrides what it sets."""
    _table(tables, "rules", where)
    defaults = Rule()
    for name, table in tables.items():
        _table(table, f"rules.{name}", where)
        unknown = sorted(set(table) - {f.name for f in dataclasses.fields(Rule)})
        if unknown:
            raise InputError(f"unknown key(s) in [rules.{name}]: {', '.join(unknown)}", where)
        for key, value in table.items():
            table[key] = _typed(value, getattr(defaults, key), f"rules.{name}.{key}", where)
    base = Rule(**tables.get("default", {}))
    return {name: dataclasses.replace(base, **table) for name, table in tables.items()}


def _validate(cfg: ServiceConfig, where: Path | None) -> None:
    def bad(msg: str) -> InputError:
        return InputError(msg, where)

    if not 1 <= len(cfg.ae_title.strip()) <= 16:
        raise bad(f"ae_title {cfg.ae_title!r} must be 1 to 16 characters")
    if not 0 <= int(cfg.port) <= 65535:
        raise bad(f"port {cfg.port} is out of range")
    if cfg.completion not in ("stable", "instance"):
        raise bad(f"completion mode {cfg.completion!r}: use 'stable' or 'instance'")
    if cfg.workers < 1 or cfg.max_attempts < 1 or cfg.delivery_attempts < 1:
        raise bad("workers, worker.max_attempts and delivery.max_attempts must be at least 1")
    if cfg.destination != "caller" and cfg.destination not in cfg.peers:
        raise bad(f"delivery destination {cfg.destination!r} is neither 'caller' nor a [peers] name")
    tls = [cfg.tls_cert, cfg.tls_key, cfg.tls_ca]
    if any(tls) and not all(tls):
        raise bad("[tls] needs cert, key and ca together")
    for rule in cfg.rules.values():
        if rule.followups < 1 or rule.iod not in ("sc", "source"):
            raise bad(f"rule {rule}: followups must be >= 1 and iod 'sc' or 'source'")
