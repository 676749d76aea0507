"""Build, verify, test and release GatewayD plugins.

The Python behind the ``test``, ``test-plugin`` and ``release`` GitHub Actions composites. Each pipeline
stage lives in its own module; ``cli`` wires them to subcommands.
"""

__version__ = "0.1.0"
