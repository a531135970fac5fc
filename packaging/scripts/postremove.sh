#!/bin/sh
# After removal: tell systemd; on purge, remove hookwatch's state and spool
# (the configuration is the package manager's to remove).
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
if [ "$1" = "purge" ]; then
	rm -rf /var/lib/hookwatch /var/spool/hookwatch /var/log/hookwatch
fi
exit 0
