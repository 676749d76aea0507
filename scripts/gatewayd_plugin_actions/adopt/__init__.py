"""``init``: adopt the actions in a plugin repository in one command (see ``adopt.init``).

workflows.py  the templates, and the old release/test workflows they replace (content fingerprints)
gomodule.py   go.sum completeness and plugin.Version, fixed on a scratch copy first
changes.py    whole-file changes: shown as a unified diff, applied atomically
init.py       the command's flow: plan, show, apply (unless --dry-run), what to run next
"""
