"""Install what the stack runs: PostgreSQL (Debian), Kafka and Debezium (Maven), FerretDB (Go).

Also, on demand, Debian's Chromium and its driver for the tests that open pages in a browser,
and Toxiproxy (Go) for the fault tests.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from compose.settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)

KAFKA_POM = REPO_ROOT / "compose" / "kafka" / "pom.xml"
DEBEZIUM_POM = REPO_ROOT / "compose" / "kafka" / "debezium" / "pom.xml"
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# The fault proxy of the fault tests, built on demand by their fixture.
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
TOXIPROXY_VERSION = "v2.12.0"
DEBIAN_PACKAGES = ("postgresql", "postgresql-client")
BROWSER_PACKAGES = ("chromium", "chromium-driver")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class InstallError(Exception):
    """A tool the stack needs could not be installed."""


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server's bin folder, or None when none is installed."""
    override = os.environ.get("PG_BINDIR")
    if override:
        return Path(override)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def _run(cmd: list[str], *, what: str, cwd: Path | None = None) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise InstallError(f"{what} failed ({' '.join(cmd)}):\n{tail}")


def apt_install(packages: tuple[str, ...]) -> None:
    """apt-get install Debian packages (as root), without their recommendations."""
    if os.geteuid() != 0:
        raise InstallError(f"{' '.join(packages)} missing: run `apt-get install` them as root")
    env_cmd = ["env", "DEBIAN_FRONTEND=noninteractive"]
    _run([*env_cmd, "apt-get", "update", "-q"], what="apt-get update")
    _run(
        [*env_cmd, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        what=f"apt-get install {' '.join(packages)}",
    )


def install_postgres() -> None:
    """Install Debian's PostgreSQL server when no server is installed."""
    if postgres_bindir() is not None and shutil.which("psql"):
        return
    apt_install(DEBIAN_PACKAGES)
    # Debian's package starts its own cluster on 5432; the project runs its own cluster instead.
    for conf in glob.glob("/etc/postgresql/*/main"):
        version = Path(conf).parent.name
        subprocess.run(["pg_ctlcluster", version, "main", "stop"], capture_output=True, check=False)
        Path(conf, "start.conf").write_text("manual\n")


def install_browser() -> None:
    """Install Debian's Chromium and chromedriver when either is missing (for browser tests)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    apt_install(BROWSER_PACKAGES)


def _stamp_ok(folder: Path, key: str) -> bool:
    return (folder / ".stamp").is_file() and (folder / ".stamp").read_text() == key


def _maven_copy(pom: Path, target: Path) -> None:
    """Copy a pom's runtime dependencies into `target`, once per pom content."""
    key = hashlib.sha256(pom.read_bytes()).hexdigest()
    if _stamp_ok(target, key):
        return
    if not shutil.which("mvn"):
        raise InstallError("mvn is missing: install Maven (apt-get install maven)")
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        _run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={staging}",
            ],
            what=f"mvn ({pom.relative_to(REPO_ROOT)})",
        )
        (staging / ".stamp").write_text(key)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def install_kafka(settings: Settings) -> None:
    """Kafka's jars into the cache, and the Debezium connector as a Connect plugin folder."""
    settings.kafka_libs.parent.mkdir(parents=True, exist_ok=True)
    _maven_copy(KAFKA_POM, settings.kafka_libs)
    settings.connect_plugins.mkdir(parents=True, exist_ok=True)
    _maven_copy(DEBEZIUM_POM, settings.connect_plugins / "debezium-connector-postgres")


def _go_module_dir(module: str, version: str) -> Path:
    """Download a Go module at `version` through the Go module proxy; its read-only folder."""
    if not shutil.which("go"):
        raise InstallError(f"go is missing: {module} is built from its Go module")
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InstallError(f"go mod download {module}: {result.stdout}{result.stderr}")
    return Path(json.loads(result.stdout)["Dir"])


def build_go_command(
    module: str,
    version: str,
    package: str,
    binary: Path,
    *,
    prepare: Callable[[Path], None] | None = None,
) -> None:
    """`go build` a Go module's command `package` at `version` into `binary`, once per version.

    The module is built from a writable copy so `prepare` may add files its release process
    generates; a `<binary>.version` stamp beside the binary makes a second call a no-op.
    """
    stamp = binary.with_name(f"{binary.name}.version")
    if binary.exists() and stamp.exists() and stamp.read_text() == version:
        return
    module_dir = _go_module_dir(module, version)
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{binary.name}-build-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(module_dir, src)
        for path in src.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        src.chmod(0o755)
        if prepare is not None:
            prepare(src)
        _run(
            ["go", "build", "-buildvcs=false", "-trimpath", "-o", str(binary), package],
            what=f"go build {binary.name}",
            cwd=src,
        )
    stamp.write_text(version)


def _write_ferretdb_version(src: Path) -> None:
    (src / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")


def install_ferretdb(settings: Settings) -> None:
    """Build FerretDB from its Go module at the pinned version into the cache's bin folder.

    `go install ...@v1.24.2` alone gives a binary that panics at start: the module lacks the
    build/version/version.txt that FerretDB's release process generates. So fetch the same
    module, write that file, and `go build` its cmd/ferretdb.
    """
    build_go_command(
        FERRETDB_MODULE,
        FERRETDB_VERSION,
        "./cmd/ferretdb",
        settings.ferretdb_bin,
        prepare=_write_ferretdb_version,
    )


def install_toxiproxy(settings: Settings) -> Path:
    """Build Toxiproxy's server at the pinned version into the cache's bin folder (fault tests)."""
    build_go_command(TOXIPROXY_MODULE, TOXIPROXY_VERSION, "./cmd/server", settings.toxiproxy_bin)
    return settings.toxiproxy_bin


def install(settings: Settings) -> None:
    """Install everything the selected services need; quick when all is there."""
    wanted = set(settings.services)
    if "postgres" in wanted:
        install_postgres()
    if wanted & {"kafka", "connect"}:
        install_kafka(settings)
    if "ferretdb" in wanted:
        install_ferretdb(settings)
    if not shutil.which("java") and wanted & {"kafka", "connect"}:
        raise InstallError("java is missing: Kafka 4.3 needs Java 17 or newer")
