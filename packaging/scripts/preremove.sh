#!/bin/sh
# Before removal (not upgrade): stop and disable.
set -e
case "$1" in
	remove|0)
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
			systemctl disable --now hookwatch.service || true
		fi
		;;
esac
exit 0
