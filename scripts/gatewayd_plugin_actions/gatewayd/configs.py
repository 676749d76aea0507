"""The two files test-plugin hands GatewayD: ``gatewayd_plugins.yaml`` made from the plugin's own manifest
(ruamel round-trip, comments kept) and a minimal ``gatewayd.yaml`` on free loopback ports with TLS."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gatewayd_plugin_actions import gotools
from gatewayd_plugin_actions.errors import UserError
from gatewayd_plugin_actions.gatewayd import postgres


def round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


@dataclass(frozen=True)
class PluginsConfig:
    """The generated ``gatewayd_plugins.yaml`` and what its ``plugins[0]`` gives the plugin."""

    text: str
    env: list[str]  # plugins[0].env as configured (what GatewayD gives the plugin)
    args: list[str]
    lines: dict[str, int]  # a setting (env item or arg) from the manifest → its line there


def plugins_config(manifest_path: Path, local_path: str, checksum: str, env: list[tuple[str, str]],
                   args: list[str] | None, health_check_period: str, start_timeout: str) -> PluginsConfig:
    """The plugin's own ``gatewayd_plugin.yaml``, round-tripped (comments kept), ready for ``gatewayd run -p``,
    with ``env`` (``--plugin-env``) merged into ``plugins[0].env`` and ``args`` (when given) replacing its args.

    ``healthCheckPeriod`` and ``startTimeout`` are the run's: a crash is seen within seconds, and a plugin that
    never serves costs ``start_timeout``, not GatewayD's minute (``run`` loads plugins before it serves
    anything, so the whole start waits for it). The installer copies only ``plugins[0]`` into a user's file, so
    the manifest's own top-level values are GatewayD's defaults, not a user's setting."""
    yaml = round_trip_yaml()
    root = yaml.load(manifest_path.read_text(encoding="utf-8"))
    assert isinstance(root, CommentedMap)
    plugins = root["plugins"]
    assert isinstance(plugins, CommentedSeq)
    del plugins[1:]  # other entries name plugins this run does not have
    entry = plugins[0]
    entry["localPath"] = local_path
    entry["checksum"] = checksum
    lines: dict[str, int] = {}
    if args is not None:
        entry["args"] = CommentedSeq(args)
    else:
        lines.update(_item_lines(entry["args"]))
    entry_env = entry["env"]
    lines.update(_item_lines(entry_env))
    for key, value in env:
        index = next((i for i, item in enumerate(entry_env) if str(item).partition("=")[0] == key), None)
        if index is None:
            entry_env.append(f"{key}={value}")
        else:
            lines.pop(str(entry_env[index]), None)
            entry_env[index] = f"{key}={value}"
    root["healthCheckPeriod"] = health_check_period
    root["startTimeout"] = start_timeout
    out = io.StringIO()
    yaml.dump(root, out)
    return PluginsConfig(out.getvalue(), [str(item) for item in entry_env], [str(item) for item in entry["args"]],
                         lines)


def _item_lines(items: Any) -> dict[str, int]:
    """Each item of a round-tripped YAML list → its 1-based line (flow lists: the list's line)."""
    found: dict[str, int] = {}
    if not isinstance(items, CommentedSeq):
        return found
    for index, item in enumerate(items):
        try:
            line = items.lc.item(index)[0]
        except (KeyError, TypeError):
            line = items.lc.line
        found.setdefault(str(item), line + 1)
    return found


@dataclass(frozen=True)
class Ports:
    proxy: int
    http: int
    grpc: int
    metrics: int
    raft: int
    raft_grpc: int

    @classmethod
    def pick(cls) -> Ports:
        """Six distinct free loopback ports, so parallel runs do not collide."""
        chosen: list[int] = []
        while len(chosen) < 6:
            port = postgres.free_port()
            if port not in chosen:
                chosen.append(port)
        return cls(*chosen)


def global_config(ports: Ports, backend: str, cert: Path, key: Path, raft_dir: Path, log_level: str = "debug") -> str:
    """A minimal ``gatewayd.yaml``: one backend, console logs (debug, or ``log_level``) with µs timestamps, TLS,
    all on loopback."""
    data: dict[str, Any] = {
        "loggers": {"default": {"level": log_level, "output": ["console"], "noColor": True,
                                "timeFormat": "unixmicro", "consoleTimeFormat": "RFC3339Nano"}},
        "metrics": {"default": {"enabled": True, "address": f"127.0.0.1:{ports.metrics}"}},
        "clients": {"default": {"writes": {"network": "tcp", "address": backend}}},
        "pools": {"default": {"writes": {"size": 4}}},
        "proxies": {"default": {"writes": {"healthCheckPeriod": "60s"}}},
        "servers": {"default": {"network": "tcp", "address": f"127.0.0.1:{ports.proxy}", "enableTLS": True,
                                "certFile": str(cert), "keyFile": str(key)}},
        "api": {"enabled": True, "httpAddress": f"127.0.0.1:{ports.http}",
                "grpcAddress": f"127.0.0.1:{ports.grpc}", "grpcNetwork": "tcp"},
        "raft": {"address": f"127.0.0.1:{ports.raft}", "grpcAddress": f"127.0.0.1:{ports.raft_grpc}",
                 "nodeId": "node1", "isBootstrap": True, "directory": str(raft_dir)},
    }
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(data, out)
    return "# Generated by gatewayd-plugin-actions test-plugin\n" + out.getvalue()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for localhost/127.0.0.1: ``openssl``, else Go's own generate_cert.go."""
    cert, key = directory / "server.crt", directory / "server.key"
    openssl = shutil.which("openssl")
    if openssl:
        result = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            capture_output=True, text=True, timeout=60, check=False)
        if result.returncode == 0:
            return cert, key
    go = gotools.go_binary()
    goroot = gotools.go_env(directory, "GOROOT")[0].strip()
    generator = Path(goroot) / "src" / "crypto" / "tls" / "generate_cert.go"
    result = subprocess.run([go, "run", str(generator), "--host", "localhost,127.0.0.1", "--ecdsa-curve", "P256"],
                            cwd=directory, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise UserError(f"cannot make a TLS certificate (no openssl; go run generate_cert.go failed: "
                        f"{result.stderr.strip()[-200:]})")
    (directory / "cert.pem").replace(cert)
    (directory / "key.pem").replace(key)
    return cert, key
