#!/bin/sh
# The package version from git, always increasing along main:
#   on a tag v0.3.0                  0.3.0
#   after it                         0.3.0+git<UTC commit time>.<hash>
#   no tag yet                       0.0.0+git<UTC commit time>.<hash>
# (a hash alone sorts at random: an upgrade could go backwards).
set -e
hash=$(git rev-parse --short=7 HEAD)
when=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)
tag=$(git describe --tags --match 'v[0-9]*' --abbrev=0 2>/dev/null || true)
if [ -n "$tag" ]; then
	base=${tag#v}
	if [ "$(git rev-list --count "$tag"..HEAD)" = 0 ]; then
		echo "$base"
		exit 0
	fi
else
	base=0.0.0
fi
echo "$base+git$when.$hash"
