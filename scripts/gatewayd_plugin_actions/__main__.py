"""``python -m gatewayd_plugin_actions`` runs the CLI."""

from gatewayd_plugin_actions.cli import main

raise SystemExit(main())
