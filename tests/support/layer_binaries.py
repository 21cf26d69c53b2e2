"""Does a Lambda layer fit the runtime's machine? Read from its files, never by importing them on this machine.

Two questions, each answered with one line per misfit:
- every ELF file's version needs (`.gnu.version_r`) ask for no `GLIBC_x.y` newer than the runtime's glibc, and it is
  built for x86_64;
- every installed wheel (`*.dist-info/WHEEL`) has a tag the runtime accepts: its CPython (or `py3`, or a stable-ABI
  tag no newer than it) and `any` or a manylinux tag no newer than its glibc; extension modules carry its ABI suffix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

Version = tuple[int, ...]
_GLIBC = re.compile(r"GLIBC_(\d+(?:\.\d+)+)$")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_x86_64$")
_LEGACY_MANYLINUX = {"manylinux1_x86_64": (2, 5), "manylinux2010_x86_64": (2, 12), "manylinux2014_x86_64": (2, 17)}
_EXTENSION_ABI = re.compile(r"\.cpython-(\d+)-")


def _elf_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as stream:
                if stream.read(4) == b"\x7fELF":
                    yield path


def glibc_needs(path: Path) -> dict[str, Version]:
    """The `GLIBC_x.y` symbol versions one ELF file needs, by the library that provides them (newest per library)."""
    needs: dict[str, Version] = {}
    with path.open("rb") as stream:
        for section in ELFFile(stream).iter_sections():
            if not isinstance(section, GNUVerNeedSection):
                continue
            for verneed, auxiliaries in section.iter_versions():
                for auxiliary in auxiliaries:
                    match = _GLIBC.match(auxiliary.name)
                    if match:
                        version = tuple(int(part) for part in match.group(1).split("."))
                        needs[verneed.name] = max(needs.get(verneed.name, version), version)
    return needs


def native_library_misfits(root: Path, glibc: Version) -> list[str]:
    """One line per ELF file under `root` that needs a newer glibc than `glibc` or is not built for x86_64."""
    misfits = []
    for path in _elf_files(root):
        with path.open("rb") as stream:
            machine = ELFFile(stream)["e_machine"]
        if machine != "EM_X86_64":
            misfits.append(f"{path.relative_to(root)}: built for {machine}, the runtime is x86_64")
        for library, version in sorted(glibc_needs(path).items()):
            if version > glibc:
                misfits.append(
                    f"{path.relative_to(root)}: needs GLIBC_{_dotted(version)} from {library}, "
                    f"the runtime has glibc {_dotted(glibc)}"
                )
    return misfits


def _dotted(version: Version) -> str:
    return ".".join(map(str, version))


def _python_fits(interpreter: str, abi: str, python: Version) -> bool:
    if interpreter.startswith("py"):
        return interpreter[2:3] == str(python[0])
    if not interpreter.startswith("cp"):
        return False
    built_for = (int(interpreter[2]), int(interpreter[3:]))
    return built_for == python or (abi == "abi3" and built_for <= python)


def _platform_fits(platform: str, glibc: Version) -> bool:
    if platform == "any":
        return True
    match = _MANYLINUX.match(platform)
    needed = (int(match.group(1)), int(match.group(2))) if match else _LEGACY_MANYLINUX.get(platform)
    return needed is not None and needed <= glibc


def wheel_misfits(root: Path, python: Version, glibc: Version) -> list[str]:
    """One line per installed wheel whose tags the runtime (CPython `python` on glibc `glibc`, x86_64) rejects."""
    misfits = []
    for wheel in sorted(root.glob("*.dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text().splitlines() if line.startswith("Tag:")]
        if not any(
            _python_fits(interpreter, abi, python) and _platform_fits(platform, glibc)
            for interpreter, abi, platform in (tag.split("-") for tag in tags)
        ):
            misfits.append(
                f"{wheel.parent.name}: tags {', '.join(tags) or 'none'} do not fit CPython {_dotted(python)} "
                f"on glibc {_dotted(glibc)} x86_64"
            )
    runtime_abi = f"{python[0]}{python[1]}"
    for extension in sorted(root.rglob("*.so")):
        match = _EXTENSION_ABI.search(extension.name)
        if match and match.group(1) != runtime_abi:
            misfits.append(
                f"{extension.relative_to(root)}: an extension for CPython {match.group(1)}, not {runtime_abi}"
            )
    return misfits
