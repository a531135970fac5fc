#!/bin/bash
# A day of ordinary administration, replayed under hookwatch: what a benign
# server does, which must raise no alert. Run as root on a test machine:
#
#   tools/replay/benign.sh [-b BINARY] [-s day|short] [-q]
#
#   -b  the hookwatch binary (default: bin/hookwatch, built by `make build`)
#   -s  day: the full day (35 sudo, 25 ssh logins, 10 su, ...); short: a
#       fifth of it, for CI
#   -q  exit 1 when any alert was raised
#
# It prints the alerts by level and rule, the documents and bytes written, and
# both per hour of replay. It creates a user (hwreplay) with a sudoers drop-in
# and an sshd on 127.0.0.1 for the replay, installs, upgrades and removes a
# package it builds (hwreplay-lib), and undoes all of it at the end.
set -euo pipefail

BIN=bin/hookwatch
SCALE=day
QUIET=0
while getopts "b:s:q" opt; do
	case $opt in
	b) BIN=$OPTARG ;;
	s) SCALE=$OPTARG ;;
	q) QUIET=1 ;;
	*) sed -n '2,16p' "$0" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "benign.sh: run as root" >&2; exit 2; }
[ -x "$BIN" ] || { echo "benign.sh: no hookwatch binary at $BIN (make build, or -b)" >&2; exit 2; }
BIN=$(readlink -f "$BIN")
case $SCALE in
day) N=1 ;;
short) N=5 ;;
*) echo "benign.sh: -s day or -s short" >&2; exit 2 ;;
esac
times() { echo $(( ($1 + N - 1) / N )); } # a count of the day, scaled

# Not under /tmp: hookwatch refuses configuration in world-writable places.
W=$(mktemp -d /var/tmp/hookwatch-replay.XXXXXX)
chmod 700 "$W"
USER_CREATED=0
SSHD_PID=
HW_PID=
cleanup() {
	[ -n "$HW_PID" ] && kill "$HW_PID" 2>/dev/null && wait "$HW_PID" 2>/dev/null || true
	[ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
	rm -f /etc/sudoers.d/hwreplay
	dpkg -r hwreplay-lib >/dev/null 2>&1 || true
	[ "$USER_CREATED" = 1 ] && userdel -r hwreplay >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap cleanup EXIT

step() { printf '  %-52s' "$1"; }
ok() { echo "${1:-ok}"; }

echo "setup (before hookwatch starts)"
step "user hwreplay, sudo without password"
if ! id hwreplay >/dev/null 2>&1; then
	useradd -m -s /bin/bash hwreplay
	USER_CREATED=1
fi
echo 'hwreplay ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/hwreplay
chmod 440 /etc/sudoers.d/hwreplay
ok

step "sshd on 127.0.0.1"
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
install -d -o hwreplay -m 700 ~hwreplay/.ssh
install -o hwreplay -m 600 "$W/client_key.pub" ~hwreplay/.ssh/authorized_keys
PORT=$((20000 + RANDOM % 20000))
cat >"$W/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd.pid
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
mkdir -p /run/sshd
/usr/sbin/sshd -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
	(exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
	sleep 0.05
done
ok "port $PORT"

step "package hwreplay-lib 1.0 and 1.1 (built here)"
mkpkg() {
	local v=$1 d="$W/pkg-$1"
	mkdir -p "$d/DEBIAN" "$d/usr/lib/hwreplay"
	printf 'int hwreplay_version(void) { return %s; }\n' "${v//./}" >"$d/lib.c"
	gcc -shared -fPIC -o "$d/usr/lib/hwreplay/libhwreplay.so.1" "$d/lib.c"
	rm "$d/lib.c"
	printf 'Package: hwreplay-lib\nVersion: %s\nArchitecture: all\nMaintainer: hookwatch replay <replay@hookwatch.invalid>\nDescription: a library for the benign replay\n' "$v" >"$d/DEBIAN/control"
	dpkg-deb -b --root-owner-group "$d" "$W/hwreplay-lib_$v.deb" >/dev/null
}
mkpkg 1.0
mkpkg 1.1
ok

echo "hookwatch $("$BIN" version 2>/dev/null || echo)"
mkdir -p "$W/rules"
cat >"$W/hookwatch.yaml" <<EOF
log:
  format: json
rules:
  dir: $W/rules
EOF
"$BIN" run -config "$W/hookwatch.yaml" -output "$W/events.json" -metrics-listen 127.0.0.1:0 -stats-interval 0 2>"$W/hookwatch.log" &
HW_PID=$!
for _ in $(seq 300); do
	grep -q '"hookwatch running"' "$W/hookwatch.log" && break
	kill -0 "$HW_PID" 2>/dev/null || { cat "$W/hookwatch.log" >&2; exit 1; }
	sleep 0.1
done
START=$(date +%s.%N)

echo "the day ($SCALE)"
as_user() { su -s /bin/sh hwreplay -c "$1"; }
SSH=(ssh -i "$W/client_key" -p "$PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR)

step "$(times 35) x sudo -n true (by hwreplay)"
for _ in $(seq "$(times 35)"); do as_user 'sudo -n true'; done
ok
step "$(times 25) x ssh login"
for _ in $(seq "$(times 25)"); do "${SSH[@]}" hwreplay@127.0.0.1 true; done
ok
step "$(times 10) x su - hwreplay"
for _ in $(seq "$(times 10)"); do su - hwreplay -c true; done
ok
step "ssh-keygen -l, passwd -S, gpg --version"
ssh-keygen -l -f "$W/host_key.pub" >/dev/null
passwd -S root >/dev/null
if command -v gpg >/dev/null; then gpg --version >/dev/null; fi
ok
step "ldconfig, ldd"
ldconfig
ldd /bin/ls >/dev/null
ok
step "install, upgrade, remove a package"
dpkg -i "$W/hwreplay-lib_1.0.deb" >/dev/null
dpkg -i "$W/hwreplay-lib_1.1.deb" >/dev/null
dpkg -r hwreplay-lib >/dev/null
ok

# Software that preloads on purpose, as it is packaged.
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
step "fakeroot, stdbuf, faketime"
fakeroot true
stdbuf -o0 true
faketime -f '-1d' true
ok
step "eatmydata, valgrind, jemalloc (when installed)"
done_list=
if command -v eatmydata >/dev/null; then eatmydata true; done_list+=" eatmydata"; fi
if command -v valgrind >/dev/null; then valgrind -q true; done_list+=" valgrind"; fi
if [ -e "/usr/lib/$MULTIARCH/libjemalloc.so.2" ]; then
	LD_PRELOAD="/usr/lib/$MULTIARCH/libjemalloc.so.2" sleep 0
	done_list+=" jemalloc"
fi
ok "${done_list:- none installed}"
step "ssh-keygen -D with a packaged PKCS#11 module"
p11=
for m in "/usr/lib/$MULTIARCH/opensc-pkcs11.so" "/usr/lib/$MULTIARCH/p11-kit-proxy.so"; do
	[ -e "$m" ] && { p11=$m; break; }
done
if [ -n "$p11" ]; then
	ssh-keygen -D "$p11" >/dev/null 2>&1 || true # no token: it exits 1, after loading the module
	ok "$(basename "$p11")"
else
	ok "none installed"
fi

sleep 2 # the last reports settle (a loader configuration change waits 150 ms)
END=$(date +%s.%N)
kill -TERM "$HW_PID"
wait "$HW_PID" || true
HW_PID=

EV="$W/events.json"
DOCS=$(wc -l <"$EV")
BYTES=$(wc -c <"$EV")
SECS=$(awk "BEGIN{print $END - $START}")
ALERTS=$(grep -c '"kind":"alert"' "$EV" || true)
echo
printf 'replay: %.0f s; %d documents, %d bytes; per hour of replay: %.0f documents, %.1f MB\n' \
	"$SECS" "$DOCS" "$BYTES" "$(awk "BEGIN{print $DOCS*3600/$SECS}")" "$(awk "BEGIN{print $BYTES*3600/$SECS/1e6}")"
echo "documents by kind:"
grep -o '"dataset":"hookwatch\.[a-z]*"' "$EV" | sort | uniq -c | sed 's/"dataset":"hookwatch\./    /; s/"$//'
echo "alerts: $ALERTS"
if [ "$ALERTS" -gt 0 ]; then
	grep '"kind":"alert"' "$EV" | sed -n 's/.*"action":"\([^"]*\)".*"severity_level":"\([a-z]*\)".*/\2 \1/p' | sort | uniq -c | sed 's/^/    /'
	grep '"kind":"alert"' "$EV" | sed -n 's/.*"reason":"\([^"]*\)".*/      reason: \1/p' | sort -u | head -20
fi
if [ "$QUIET" = 1 ] && [ "$ALERTS" -gt 0 ]; then
	exit 1
fi
