#!/usr/bin/env bash
# Runs every test of pushwire on a fresh Debian machine with Go: installs the
# real components the tests drive when they are missing (as root, through apt),
# then vets and runs the whole suite under the race detector. .ci/run calls
# this script, so CI and a developer run exactly the same thing.
#
#   ./test.sh                  # everything
#   ./test.sh ./server/ -run X # extra arguments go to `go test` in place of ./...
set -euo pipefail
cd "$(dirname "$0")"

need=()
want() { command -v "$1" >/dev/null || need+=("$2"); }
want redis-server redis-server   # cluster tests start their own Redis
want redis-cli redis-tools       # Redis Cluster tests (redis-cli --cluster create)
want redis-sentinel redis-sentinel # failover tests: a primary, its replica and sentinels
want chromium chromium           # EventSource browser tests
want nginx nginx                 # pushbench's Nchan peer
want ip iproute2                 # black-hole test: netns + veth
want curl curl                   # the subscriber inside that netns; https tests
want openssl openssl             # TLS tests (s_client)
want nghttp nghttp2-client       # HTTP/2 client tests
want systemd-analyze systemd     # deploy/: the unit file passes systemd-analyze verify
[ -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || need+=(libnginx-mod-nchan)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing ${need[*]}; run as root (or apt-get install them) first" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go version
# The HTTP/2 conformance suite, run by httpcodec/h2's TestH2Spec.
command -v h2spec >/dev/null || [ -x "$(go env GOPATH)/bin/h2spec" ] ||
  go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible
if [ $# -eq 0 ]; then
  go vet ./...
  set -- ./...
fi
exec go test -race -count=1 -timeout 14m "$@"
