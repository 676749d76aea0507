"""The example plugin as a real GatewayD plugin, checked with real processes: cross builds, the go-plugin
handshake and failure knobs, ``gatewayd plugin lint`` / ``plugin install`` of both pinned GatewayD
versions, the seed ``make build-release`` flow, and ``tools/gobin.py`` itself."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.go import (
    EXAMPLE_PLUGIN_NAME,
    EXAMPLE_PLUGIN_SRC,
    EXAMPLE_VERSION_VARIABLE,
    GATEWAYD_VERSIONS,
    GOBIN_SCRIPT,
    HANDSHAKE_RE,
    MAGIC_COOKIE_VALUE,
    build_example,
    go_env,
    plugin_env,
    read_first_line,
)

HOST = ({"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), ""),
        {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), ""))
TARGETS = [(goos, goarch) for goos in ("linux", "darwin", "windows") for goarch in ("amd64", "arm64")]
# (magic bytes, offset/value check) per OS and arch: ELF e_machine, Mach-O cputype, PE machine.
MACHINES = {"amd64": {"linux": 0x3E, "darwin": 0x01000007, "windows": 0x8664},
            "arm64": {"linux": 0xB7, "darwin": 0x0100000C, "windows": 0xAA64}}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def machine_of(data: bytes) -> tuple[str, int]:
    """(os, machine) of an executable's header."""
    if data[:4] == b"\x7fELF":
        return "linux", int.from_bytes(data[18:20], "little")
    if data[:4] == b"\xcf\xfa\xed\xfe":
        return "darwin", int.from_bytes(data[4:8], "little")
    if data[:2] == b"MZ":
        pe = int.from_bytes(data[0x3C:0x40], "little")
        assert data[pe:pe + 4] == b"PE\0\0"
        return "windows", int.from_bytes(data[pe + 4:pe + 6], "little")
    raise AssertionError(f"not an executable: {data[:8]!r}")


@pytest.fixture
def plugin_process(example_plugin_binary: Path, tmp_path: Path) -> Iterator[Any]:
    """Start the example binary; yields a starter returning (process, stderr file). Everything started is
    killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        stderr = tmp_path / f"stderr-{len(started)}.log"
        with stderr.open("wb") as sink:
            process = subprocess.Popen([str(example_plugin_binary), *args], env=env, stdout=subprocess.PIPE,
                                       stderr=sink, stdin=subprocess.DEVNULL, cwd=tmp_path)
        started.append(process)
        return process, stderr

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


# --- building -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("goos", "goarch"), TARGETS, ids=[f"{o}-{a}" for o, a in TARGETS])
def test_example_cross_builds_without_cgo(goos: str, goarch: str, tmp_path: Path) -> None:
    binary = build_example(tmp_path / EXAMPLE_PLUGIN_NAME, version="1.2.3", goos=goos, goarch=goarch)
    data = binary.read_bytes()
    assert machine_of(data[:4096]) == (goos, MACHINES[goarch][goos])
    assert b"1.2.3" in data, "the injected version is in the binary"


def test_example_imports_no_cgo_package() -> None:
    """The SDK's databases/postgres needs cgo (pg_query_go): the example must not depend on it."""
    result = subprocess.run(["go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", "./..."],
                            cwd=EXAMPLE_PLUGIN_SRC, env=go_env(CGO_ENABLED="1"), capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    packages = result.stdout.split("\n")
    assert not [p for p in packages if "pg_query" in p or "databases/postgres" in p]
    assert "github.com/hashicorp/go-plugin " in packages
    assert [p for p in packages if p.endswith(" cgo") and not p.startswith(("runtime/cgo", "net ", "os/user"))] == []


def test_go_test_and_version_injection(tmp_path: Path) -> None:
    """`go test ./...` passes, and -X …plugin.Version reaches the metadata GatewayD reads (id.version)."""
    plain = subprocess.run(["go", "test", "-count=1", "./..."], cwd=EXAMPLE_PLUGIN_SRC, env=go_env(),
                           capture_output=True, text=True, timeout=600, check=False)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    injected = subprocess.run(["go", "test", "-count=1", "-run", "TestPluginConfigReportsVersion|TestGetPluginConfig",
                               "-ldflags", f"-X {EXAMPLE_VERSION_VARIABLE}=9.8.7", "./plugin/"],
                              cwd=EXAMPLE_PLUGIN_SRC, env=go_env(EXAMPLE_EXPECT_VERSION="9.8.7"),
                              capture_output=True, text=True, timeout=600, check=False)
    assert injected.returncode == 0, injected.stdout + injected.stderr
    mismatch = subprocess.run(["go", "test", "-count=1", "-run", "TestPluginConfigReportsVersion", "./plugin/"],
                              cwd=EXAMPLE_PLUGIN_SRC, env=go_env(EXAMPLE_EXPECT_VERSION="9.8.7"),
                              capture_output=True, text=True, timeout=600, check=False)
    assert mismatch.returncode != 0 and "want \"9.8.7\"" in mismatch.stdout, "the check can fail"


# --- the go-plugin handshake and the failure knobs -----------------------------------------------------

def test_handshake_line_and_nothing_else_on_stdout(plugin_process: Any) -> None:
    process, stderr = plugin_process(plugin_env(), "--log-level", "debug")
    line = read_first_line(process, timeout=30)
    assert line is not None and HANDSHAKE_RE.match(line), f"handshake line {line!r}; stderr: {stderr.read_text()}"
    time.sleep(0.5)
    assert process.poll() is None, "the plugin keeps serving after the handshake"
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    assert rest == b"", "stdout carries the handshake line only"
    log = stderr.read_text()
    assert '"@message":"Starting plugin"' in log and '"version":"0.1.0"' in log, log


def test_without_magic_cookie_it_refuses_to_start(plugin_process: Any) -> None:
    process, stderr = plugin_process(plugin_env(handshake=False))
    assert process.wait(timeout=30) == 1
    assert process.stdout is not None and process.stdout.read() == b""
    assert "Misconfigured ServeConfig given to serve this plugin: no magic cookie" in stderr.read_text()


def test_cookie_from_config_but_not_started_by_gatewayd(plugin_process: Any) -> None:
    env = plugin_env(handshake=False, MAGIC_COOKIE_KEY="GATEWAYD_PLUGIN", MAGIC_COOKIE_VALUE=MAGIC_COOKIE_VALUE)
    process, stderr = plugin_process(env)
    assert process.wait(timeout=30) == 1
    assert "This binary is a plugin. These are not meant to be executed directly." in stderr.read_text()


def test_exit_at_start_knob(plugin_process: Any) -> None:
    process, stderr = plugin_process(plugin_env(EXAMPLE_EXIT_AT_START="1"))
    assert process.wait(timeout=30) == 1
    assert process.stdout is not None and process.stdout.read() == b"", "no handshake"
    assert "EXAMPLE_EXIT_AT_START=1: exiting with status 1" in stderr.read_text()


def test_crash_after_knob(plugin_process: Any) -> None:
    process, stderr = plugin_process(plugin_env(EXAMPLE_CRASH_AFTER="700ms"))
    line = read_first_line(process, timeout=30)
    assert line is not None and HANDSHAKE_RE.match(line), "it serves first"
    assert process.wait(timeout=30) == 2
    assert "EXAMPLE_CRASH_AFTER elapsed: exiting with status 2 (simulated crash)" in stderr.read_text()


@pytest.mark.parametrize("value", ["soon", "-1s", "0"])
def test_other_knob_values_behave_normally(plugin_process: Any, value: str) -> None:
    process, stderr = plugin_process(plugin_env(EXAMPLE_CRASH_AFTER=value, EXAMPLE_EXIT_AT_START="0"))
    line = read_first_line(process, timeout=30)
    assert line is not None and HANDSHAKE_RE.match(line)
    time.sleep(1.0)
    assert process.poll() is None, stderr.read_text()
    assert "ignoring EXAMPLE_CRASH_AFTER" in stderr.read_text() or value == "0"


# --- real GatewayD: lint ------------------------------------------------------------------------------

def run_gatewayd(gatewayd: Path, *args: str | Path, cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run GatewayD with stderr folded into stdout (it prints everything to stderr)."""
    result = subprocess.run([str(gatewayd), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                            check=False, env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAYD_")})
    return result.returncode, result.stdout


def example_config() -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLE_PLUGIN_SRC / "gatewayd_plugin.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.gatewayd
@pytest.mark.parametrize("version", GATEWAYD_VERSIONS)
def test_gatewayd_version_reports_the_pinned_tag(gatewayd_binaries: dict[str, Path], version: str,
                                                  tmp_path: Path) -> None:
    code, output = run_gatewayd(gatewayd_binaries[version], "version", cwd=tmp_path)
    assert code == 0 and output.startswith(f"GatewayD {version} ("), output


@pytest.mark.gatewayd
@pytest.mark.parametrize("version", GATEWAYD_VERSIONS)
def test_example_config_passes_real_lint(gatewayd_binaries: dict[str, Path], version: str, tmp_path: Path) -> None:
    code, output = run_gatewayd(gatewayd_binaries[version], "plugin", "lint", "--sentry=false", "-p",
                                EXAMPLE_PLUGIN_SRC / "gatewayd_plugin.yaml", cwd=tmp_path)
    assert code == 0, output
    assert output.strip() == "plugins config is valid"
    entry = example_config()["plugins"][0]
    assert sorted(entry) == sorted(["name", "enabled", "localPath", "url", "args", "env", "checksum"])
    assert entry["name"] == EXAMPLE_PLUGIN_NAME
    assert entry["url"] == "github.com/gatewayd-plugin-actions/gatewayd-plugin-example@latest"
    assert entry["env"] == ["MAGIC_COOKIE_KEY=GATEWAYD_PLUGIN", f"MAGIC_COOKIE_VALUE={MAGIC_COOKIE_VALUE}"]


SCHEMA = "https://github.com/gatewayd-io/gatewayd/config/plugin-config#/$ref"
ITEM = f"{SCHEMA}/properties/plugins/items/$ref"
LINT_FAILURES: dict[str, tuple[Any, str]] = {
    "missing-url": (lambda c: c["plugins"][0].pop("url"),
                    f"jsonschema: '/plugins/0' does not validate with {ITEM}/required: missing properties: 'url'"),
    "compatibilityPolicy": (lambda c: c.update(compatibilityPolicy="strict"),
                            f"jsonschema: '' does not validate with {SCHEMA}/additionalProperties: "
                            "additionalProperties 'compatibilityPolicy' not allowed"),
    "unknown-plugin-key": (lambda c: c["plugins"][0].update(priority=1),
                           f"jsonschema: '/plugins/0' does not validate with {ITEM}/additionalProperties: "
                           "additionalProperties 'priority' not allowed"),
    "args-null": (lambda c: c["plugins"][0].update(args=None),
                  f"jsonschema: '/plugins/0/args' does not validate with {ITEM}/properties/args/type: "
                  "expected array, but got null"),
    "checksum-number": (lambda c: c["plugins"][0].update(checksum=1234),
                        f"jsonschema: '/plugins/0/checksum' does not validate with {ITEM}/properties/checksum/type: "
                        "expected string, but got number"),
}


@pytest.mark.gatewayd
@pytest.mark.parametrize("version", GATEWAYD_VERSIONS)
@pytest.mark.parametrize("case", sorted(LINT_FAILURES))
def test_real_lint_failure_messages(gatewayd_binaries: dict[str, Path], version: str, case: str,
                                    tmp_path: Path) -> None:
    mutate, message = LINT_FAILURES[case]
    config = copy.deepcopy(example_config())
    mutate(config)
    path = tmp_path / "gatewayd_plugin.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    code, output = run_gatewayd(gatewayd_binaries[version], "plugin", "lint", "--sentry=false", "-p", path,
                                cwd=tmp_path)
    assert code == 1, output
    # One log.Fatal line: "<date> <time> linting failed, OriginalError: <message>"
    assert output.count("\n") == 1 and f" linting failed, OriginalError: {message}\n" in output, output


# --- real GatewayD: install of a local archive --------------------------------------------------------

def pack_release_archive(binary: Path, dest: Path) -> Path:
    """A tar.gz the way releases pack it: the binary first (0755), then gatewayd_plugin.yaml, checksum.txt."""
    checksum_txt = f"{sha256(binary)}  {EXAMPLE_PLUGIN_NAME}\n".encode()
    members = [(EXAMPLE_PLUGIN_NAME, binary.read_bytes(), 0o755),
               ("gatewayd_plugin.yaml", (EXAMPLE_PLUGIN_SRC / "gatewayd_plugin.yaml").read_bytes(), 0o644),
               ("checksum.txt", checksum_txt, 0o644)]
    with tarfile.open(dest, "w:gz", format=tarfile.GNU_FORMAT) as archive:
        for name, data, mode in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 1_767_225_600
            archive.addfile(info, io.BytesIO(data))
    return dest


@pytest.mark.gatewayd
@pytest.mark.parametrize("version", GATEWAYD_VERSIONS)
def test_install_local_archive_with_real_gatewayd(gatewayd_binaries: dict[str, Path], version: str,
                                                  example_plugin_binary: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "empty-cwd"
    workdir.mkdir()
    archive = pack_release_archive(example_plugin_binary, workdir / f"{EXAMPLE_PLUGIN_NAME}-linux-amd64-v0.1.0.tar.gz")
    gatewayd = gatewayd_binaries[version]
    code, output = run_gatewayd(gatewayd, "plugin", "install", "--sentry=false", "--name", EXAMPLE_PLUGIN_NAME,
                                archive.name, cwd=workdir)
    assert code == 0
    # Observed with v0.10.3 and v0.11.1 (note the missing newline after the config-created notice).
    assert output == ("Installing plugin from CLI argument\n"
                      "Config file 'gatewayd_plugins.yaml' was created successfully."
                      "Plugin binary extracted to plugins/gatewayd-plugin-example\n"
                      "Plugin installed successfully\n"), output
    assert "Checksum verification passed" not in output, "local archives are not checksum-verified"

    installed = workdir / "plugins" / EXAMPLE_PLUGIN_NAME
    assert sorted(p.name for p in (workdir / "plugins").iterdir()) == [EXAMPLE_PLUGIN_NAME], "cleanup"
    assert installed.stat().st_mode & 0o777 == 0o755
    assert archive.is_file(), "the local archive itself is left alone"
    config = yaml.safe_load((workdir / "gatewayd_plugins.yaml").read_text(encoding="utf-8"))
    expected = dict(example_config()["plugins"][0], localPath=f"plugins/{EXAMPLE_PLUGIN_NAME}",
                    checksum=sha256(installed))
    assert config["plugins"] == [expected]
    assert sha256(installed) == sha256(example_plugin_binary)

    lint_code, lint_output = run_gatewayd(gatewayd, "plugin", "lint", "--sentry=false", "-p",
                                          "gatewayd_plugins.yaml", cwd=workdir)
    assert (lint_code, lint_output.strip()) == (0, "plugins config is valid")

    again_code, again = run_gatewayd(gatewayd, "plugin", "install", "--sentry=false", "--name",
                                     EXAMPLE_PLUGIN_NAME, archive.name, cwd=workdir)
    assert again_code == 0 and again == ("Installing plugin from CLI argument\nPlugin is already installed.\n"
                                         "Aborting...\n"), again


# --- the seed Makefile flow ---------------------------------------------------------------------------

def reported_version(binary: Path, workdir: Path) -> str:
    """The version a plugin binary logs at start ("Starting plugin" … "version":…), after a good handshake."""
    log = workdir / "version-probe.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([str(binary)], env=plugin_env(), stdout=subprocess.PIPE, stderr=sink,
                                   stdin=subprocess.DEVNULL, cwd=workdir)
    try:
        line = read_first_line(process, timeout=30)
        assert line is not None and HANDSHAKE_RE.match(line), line
    finally:
        process.kill()
        process.communicate(timeout=30)
    for entry in log.read_text().splitlines():
        record = json.loads(entry)
        if record.get("@message") == "Starting plugin":
            return str(record["version"])
    raise AssertionError(f"no 'Starting plugin' line in {log.read_text()!r}")


def test_seed_makefile_build_release(tmp_path: Path) -> None:
    if shutil.which("zip") is None:
        pytest.fail("the seed flow needs `zip` (apt-get install -y zip)")
    project = tmp_path / EXAMPLE_PLUGIN_NAME
    shutil.copytree(EXAMPLE_PLUGIN_SRC, project, ignore=shutil.ignore_patterns("dist", EXAMPLE_PLUGIN_NAME))
    result = subprocess.run(["make", "build-release", "VERSION=v0.1.0"], cwd=project, env=go_env(),
                            capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    dist = project / "dist"
    archives = sorted(f"{EXAMPLE_PLUGIN_NAME}-{o}-{a}-v0.1.0.{'zip' if o == 'windows' else 'tar.gz'}"
                      for o, a in TARGETS)
    assert sorted(p.name for p in dist.iterdir() if p.is_file()) == sorted([*archives, "checksums.txt"])
    lines = (dist / "checksums.txt").read_text().splitlines()
    assert sorted(lines) == sorted(f"{sha256(dist / name)}  {name}" for name in archives)
    for goos, goarch in TARGETS:
        name = f"{EXAMPLE_PLUGIN_NAME}-{goos}-{goarch}-v0.1.0"
        files: dict[str, bytes] = {}
        if goos == "windows":
            with zipfile.ZipFile(dist / f"{name}.zip") as archive:
                files = {info.filename: archive.read(info) for info in archive.infolist()}
        else:
            with tarfile.open(dist / f"{name}.tar.gz") as archive:
                members = archive.getmembers()
                assert [m.name for m in members] == ["gatewayd-plugin-example", "checksum.txt",
                                                     "gatewayd_plugin.yaml", "README.md", "LICENSE"]
                assert all(m.isfile() for m in members) and members[0].mode & 0o777 == 0o755
                files = {m.name: archive.extractfile(m).read() for m in members}  # type: ignore[union-attr]
        assert set(files) == {EXAMPLE_PLUGIN_NAME, "checksum.txt", "gatewayd_plugin.yaml", "README.md", "LICENSE"}
        binary = files[EXAMPLE_PLUGIN_NAME]
        assert machine_of(binary[:4096]) == (goos, MACHINES[goarch][goos])
        digest = hashlib.sha256(binary).hexdigest()
        assert files["checksum.txt"].decode() == f"{digest}  {EXAMPLE_PLUGIN_NAME}\n"
        if (goos, goarch) == HOST:
            host_binary = tmp_path / "host" / EXAMPLE_PLUGIN_NAME
            host_binary.parent.mkdir()
            host_binary.write_bytes(binary)
            host_binary.chmod(0o755)
            assert reported_version(host_binary, tmp_path) == "0.1.0", "Version injected without the v"


# --- tools/gobin.py -----------------------------------------------------------------------------------

def gobin(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GOBIN_SCRIPT), *args], capture_output=True, text=True,
                          timeout=1800, env=env, stdin=subprocess.DEVNULL, check=False)


def required_version(wrapper: str, module: str) -> str:
    """The version tools/go/<wrapper>/go.mod requires: Dependabot (gomod) bumps act and actionlint there, so
    the tests read it rather than repeat it."""
    text = (GOBIN_SCRIPT.parent / "go" / wrapper / "go.mod").read_text(encoding="utf-8")
    match = re.search(rf"^require {re.escape(module)} (v\S+)$", text, re.MULTILINE)
    assert match is not None, f"tools/go/{wrapper}/go.mod does not require {module}"
    return match.group(1)


ACTIONLINT = required_version("actionlint", "github.com/rhysd/actionlint")


def test_gobin_lists_the_pins() -> None:
    result = gobin("--list")
    assert result.returncode == 0, result.stderr
    act = required_version("act", "github.com/nektos/act")
    assert result.stdout.splitlines() == ["gatewayd-v0.10.3\tgithub.com/gatewayd-io/gatewayd@v0.10.3",
                                          "gatewayd-v0.11.1\tgithub.com/gatewayd-io/gatewayd@v0.11.1",
                                          f"actionlint\tgithub.com/rhysd/actionlint@{ACTIONLINT}",
                                          f"act\tgithub.com/nektos/act@{act}"]


def test_gobin_unknown_name_is_one_line() -> None:
    result = gobin("no-such-tool")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("gobin: error: unknown program 'no-such-tool'; known: gatewayd-v0.10.3, "
                             "gatewayd-v0.11.1, actionlint, act\n")


def test_gobin_concurrent_cold_builds_build_once(tmp_path: Path) -> None:
    """Two processes asking for the same uncached program at once: one build, one path, a runnable binary."""
    env = dict(os.environ, GPA_CACHE_DIR=str(tmp_path / "cache"))
    command = [sys.executable, str(GOBIN_SCRIPT), "actionlint"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [p.communicate(timeout=1800) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    paths = {out.strip() for out, _ in outputs}
    assert len(paths) == 1
    path = Path(paths.pop())
    assert path.is_relative_to(tmp_path / "cache" / "bin" / "actionlint")
    assert sum(f"building actionlint {ACTIONLINT} from Go modules" in err for _, err in outputs) == 1
    assert [p.name for p in path.parent.iterdir()] == ["actionlint"], "no temp files left"
    version = subprocess.run([str(path), "-version"], capture_output=True, text=True, timeout=60, check=False)
    assert version.stdout.splitlines()[0] == ACTIONLINT
    started = time.monotonic()
    warm = gobin("actionlint", env=env)
    assert warm.returncode == 0 and warm.stdout.strip() == str(path) and warm.stderr == ""
    assert time.monotonic() - started < 5


def test_gobin_cache_is_keyed_by_the_go_toolchain(tmp_path: Path) -> None:
    """A different Go (here a `go` on PATH reporting another GOVERSION) gets its own build, not the binary
    the old compiler made."""
    env = dict(os.environ, GPA_CACHE_DIR=str(tmp_path / "cache"))
    first = gobin("actionlint", env=env)
    assert first.returncode == 0, first.stderr
    real_go = shutil.which("go")
    assert real_go is not None
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "go").write_text(
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        'if [[ "$*" == "env GOVERSION GOOS GOARCH" ]]; then printf "go1.99.0\\n%s\\n%s\\n" '
        f'"$({real_go} env GOOS)" "$({real_go} env GOARCH)"; exit 0; fi\n'
        f'exec {real_go} "$@"\n')
    (shim / "go").chmod(0o755)
    upgraded = gobin("actionlint", env=dict(env, PATH=f"{shim}:{env['PATH']}"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"building actionlint {ACTIONLINT} from Go modules" in upgraded.stderr
    assert upgraded.stdout.strip() != first.stdout.strip()
    again = gobin("actionlint", env=env)
    assert again.stdout == first.stdout and again.stderr == "", "the original toolchain's build is still cached"


def test_gobin_build_failure_is_one_line(tmp_path: Path) -> None:
    """A broken pin (go.sum emptied) fails with one line and no traceback; nothing is cached."""
    tools = tmp_path / "tools"
    shutil.copytree(GOBIN_SCRIPT.parent, tools, ignore=shutil.ignore_patterns("__pycache__"))
    (tools / "go" / "actionlint" / "go.sum").write_text("")
    env = dict(os.environ, GPA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, str(tools / "gobin.py"), "actionlint"], capture_output=True, text=True,
                            timeout=600, env=env, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("gobin: error: building actionlint failed: "), result.stderr
    assert "missing go.sum entry" in last
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == [".lock"], "nothing cached"
