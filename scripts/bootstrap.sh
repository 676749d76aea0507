#!/usr/bin/env bash
# Private Python environment for the gatewayd-plugin-actions composites (test, test-plugin, release).
#
# Creates (or reuses) a venv under $RUNNER_TEMP keyed by the hash-pinned requirements, the interpreter and
# this checkout, installs requirements/runtime.txt with --require-hashes (wheels only, no dependency
# resolution), puts ../scripts on its path (a .pth file), and writes `python=<venv python>` to
# $GITHUB_OUTPUT (stdout outside Actions). Later steps run: "$GPA_PYTHON" -m gatewayd_plugin_actions …
#
# Interpreter: $GPA_BOOTSTRAP_PYTHON (e.g. actions/setup-python's python-path output), else python3/python;
# it must be >= 3.11. The venv is made with --without-pip and filled by the base interpreter's pip with
# --target (or `uv pip` when uv is on PATH), without byte-compiling: no ensurepip, no second pip start-up,
# no compileall, which are most of a cold venv's cost (measured ~1.9 s cold, 0.2 s warm; bench/).
#
# With --probe it only says whether the runner's python3 (or python) is >= 3.11: `ok=true|false` to
# $GITHUB_OUTPUT (stdout outside Actions), so the action sets up a Python only when it must.
set -euo pipefail

emit() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1" >>"$GITHUB_OUTPUT"; else echo "$1"; fi
}

if [[ "${1:-}" == "--probe" ]]; then
  for candidate in python3 python; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      emit "ok=true"
      exit 0
    fi
  done
  emit "ok=false"
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/requirements/runtime.txt"
python="${GPA_BOOTSTRAP_PYTHON:-}"
if [[ -z "$python" ]]; then
  python="$(command -v python3 || command -v python || true)"
fi
# One interpreter start does the version check, the venv key and the pip probe, and resolves the real
# executable: later calls skip launchers such as pyenv's shims (~0.1 s each).
probe='
import hashlib, importlib.util, sys
if sys.version_info < (3, 11):
    sys.exit(1)
digest = hashlib.sha256(open(sys.argv[1], "rb").read())
digest.update(f"{sys.version}|{sys.executable}|{sys.argv[2]}".encode())
print(digest.hexdigest()[:16], int(importlib.util.find_spec("pip") is not None))
print(sys.executable)
'
if [[ -z "$python" ]] || ! info="$("$python" -c "$probe" "$requirements" "$root" 2>/dev/null)"; then
  echo "::error title=gatewayd-plugin-actions::needs Python >= 3.11; found ${python:-none} ($("${python:-false}" --version 2>&1 || true))" >&2
  exit 1
fi
{ read -r key has_pip; IFS= read -r executable || true; } <<<"$info"
[[ -n "$executable" ]] && python="$executable"  # sys.executable can be empty in odd embeddings
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/gpa-venv-$key"
fresh=false
if [[ ! -f "$venv/.complete" ]]; then
  rm -rf "$venv"
  "$python" -m venv --without-pip "$venv"
  fresh=true
fi
bin="$venv/bin"
[[ -d "$venv/Scripts" ]] && bin="$venv/Scripts"  # Windows
venv_python="$bin/python"
[[ -x "$venv_python" ]] || venv_python="$bin/python.exe"

if [[ "$fresh" == true ]]; then
  site="$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  flags=(--require-hashes --no-deps --only-binary :all: -r "$requirements")
  if command -v uv >/dev/null 2>&1; then
    uv pip install --quiet --python "$venv_python" "${flags[@]}"
  elif [[ "$has_pip" == 1 ]]; then
    # --target: the base interpreter's pip writes straight into the venv, no second pip start-up
    # (and no PEP 668 refusal: nothing goes into the base environment).
    "$python" -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
      --no-compile --target "$site" "${flags[@]}"
  else  # no pip beside the base interpreter
    "$venv_python" -m ensurepip --default-pip >/dev/null
    "$venv_python" -m pip install --quiet --disable-pip-version-check --no-input --no-compile "${flags[@]}"
  fi
  printf '%s\n' "$root/scripts" >"$site/gatewayd-plugin-actions.pth"
  touch "$venv/.complete"
fi

if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "python=$venv_python" >>"$GITHUB_OUTPUT"
else
  echo "$venv_python"
fi
