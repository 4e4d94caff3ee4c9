#!/bin/sh
# What the Makefile's commands need from the machine, beyond make itself, checked in one place:
#   python   python3 >= 3.11 that can make a virtual environment, and room on disk for .venv
#   git      the git command (DVC and the slow tests' throwaway repositories run it)
#   repo     this folder is a git work tree (`dvc repro` refuses to run outside one)
#   browser  Chromium for the report's browser test (tests/test_report.py), found the way the test
#            finds it: $PAPERS_CHROMIUM, else `chromium` on PATH, else /usr/bin/chromium
# A missing Debian package (git, chromium) is installed when running as root; otherwise the
# script stops and names the command to run. Usage: sh scripts/ensure-system.sh NEED...
set -eu

PYTHON=${PYTHON:-python3}
MIN_FREE_MB=3000 # .venv takes 1.7 GB, pip's download cache and the tests' temporary files the rest

# The message, one argument a line.
fail() {
  printf 'ensure-system: %s\n' "$1" >&2
  shift
  [ $# -eq 0 ] || printf '%s\n' "$@" >&2
  exit 1
}

# Install Debian package $1 (what it is: $2) as root, or stop with the command that installs it;
# $3, if given, names another way out.
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    fail "$2 is missing and this is not a Debian/Ubuntu system: install $1 with the system's" \
      "package manager, then run the same make command again." ${3:+"$3"}
  fi
  if [ "$(id -u)" -ne 0 ]; then
    fail "$2 is missing. Install it as root, then run the same make command again:" \
      "  sudo apt-get update && sudo apt-get install -y $1" ${3:+"$3"}
  fi
  echo "ensure-system: $2 is missing: apt-get update && apt-get install -y $1"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$1"
}

need_python() {
  command -v "$PYTHON" >/dev/null 2>&1 ||
    fail "$PYTHON not found: Python 3.11 or newer is required." \
      "On Debian/Ubuntu: sudo apt-get install -y python3 python3-venv" \
      "Or name another one: make PYTHON=/path/to/python3"
  version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
    fail "$PYTHON is Python $version: 3.11 or newer is required (make PYTHON=/path/to/python3.11)"
  # Debian and Ubuntu ship venv's pip bootstrap (ensurepip) in a package of its own.
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null ||
    fail "$PYTHON cannot create a virtual environment: it has no ensurepip module." \
      "On Debian/Ubuntu install python$version-venv, then run the same make command again:" \
      "  sudo apt-get install -y python$version-venv"
  free_mb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1024) }')
  [ "$free_mb" -ge "$MIN_FREE_MB" ] ||
    fail "only $free_mb MB free on this disk: .venv and the tests need about $MIN_FREE_MB MB"
}

need_git() {
  command -v git >/dev/null 2>&1 || apt_install git "git (DVC runs it)"
}

need_repo() {
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    fail "$(pwd) is not a git work tree, and dvc repro (make run) runs only in one." \
      "Clone the project with git, or make this folder a repository:" \
      "  git init -q && git add -A && git commit -q -m import"
}

need_browser() {
  if [ "${PAPERS_SKIP_BROWSER:-}" = "1" ]; then
    echo "ensure-system: PAPERS_SKIP_BROWSER=1: the browser test will be skipped"
    return
  fi
  if [ -n "${PAPERS_CHROMIUM:-}" ]; then
    [ -x "$PAPERS_CHROMIUM" ] || fail "PAPERS_CHROMIUM=$PAPERS_CHROMIUM is not an executable file"
    return
  fi
  if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    return
  fi
  apt_install chromium "Chromium (the report's browser test drives it)" \
    "(Or point the test at another Chromium with PAPERS_CHROMIUM=/path/to/chromium.)"
  command -v chromium >/dev/null 2>&1 || fail "apt-get installed chromium but no chromium command"
  echo "ensure-system: installed $(chromium --version 2>/dev/null || echo chromium)"
}

for need in "$@"; do
  case $need in
    python | git | repo | browser) "need_$need" ;;
    *) fail "unknown need: $need (python, git, repo, browser)" ;;
  esac
done
