"""The CLI's subcommands: each module here exposes ``register(subparsers)`` and sets ``func`` on its parsers.

``COMMANDS`` says which module registers each subcommand, so a run imports only the one it needs: every
action step is a CLI start, and importing every module (requests, ruamel, …) costs more than most
commands' own work (~1 s against ~0.35 s). It is the one list of subcommands; tests/test_cli.py holds it
against what the modules register and against the files in this folder.
"""

COMMANDS = {
    "init": "init",
    "validate": "validate",
    "build": "build",
    "package": "package",
    "verify": "verify",
    "release": "release",
    "publish": "publish", "merge": "publish", "preflight": "publish",
    "lint-plan": "checks", "lint": "checks", "govulncheck": "checks", "go-test": "checks", "test-summary": "checks",
    "toolbox": "toolbox",
    "test-plugin": "integration",
    "dev": "dev",
    "step": "step",
}

# The modules, in the order --help lists their subcommands.
MODULES = tuple(dict.fromkeys(COMMANDS.values()))
