#!/bin/sh
# Test stand-in for the official telegraf image's entrypoint: `-flags` mean `telegraf -flags`.
# (The official one also drops root to the telegraf user; the compose file sets `user:` itself.)
set -e
case "${1:-}" in -*) set -- telegraf "$@" ;; esac
exec "$@"
