#!/bin/sh
# After install or upgrade: reload systemd, enable on first install, restart
# on upgrade. Where systemd is not running (a container, a chroot) there is
# nothing to tell it: do nothing rather than fail.
set -e
mkdir -p /var/spool/hookwatch /var/lib/hookwatch
chmod 0700 /var/spool/hookwatch /var/lib/hookwatch
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	# deb: "configure" with the old version on upgrade; rpm: $1 is 2 on upgrade.
	if [ "$1" = "configure" ] && [ -z "$2" ] || [ "$1" = "1" ]; then
		systemctl enable --now hookwatch.service || true
	else
		systemctl try-restart hookwatch.service || true
	fi
fi
exit 0
