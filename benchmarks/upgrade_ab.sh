#!/bin/sh
# The upgrade's pause at 15,000 connections (issue 14), a base commit (A) against the working
# tree (B), alternated A B A B in one run: TestUpgradeAtScale without the race detector, the
# same test files on both sides (this tree's upgrade*_test.go: they measure the subscribers' longest gap).
# Prints each run's figures, then the medians. Run from the repository's root:
#   benchmarks/upgrade_ab.sh [BASE [ROUNDS]]      (defaults: main, 3)
set -eu
base=${1:-main}
rounds=${2:-3}
tree=$(pwd)
a=$(mktemp -d)
trap 'rm -rf "$a"' EXIT
git archive "$base" | tar -x -C "$a"
cp acceptance/upgrade*_test.go "$a/acceptance/"
out=$(mktemp)
for i in $(seq "$rounds"); do
	for side in A B; do
		dir=$tree
		[ "$side" = A ] && dir=$a
		(cd "$dir" && go test -count=1 ./acceptance/ -run 'TestUpgradeAtScale$' -v \
			-args -upgrade.race=false -upgrade.scale=3750) >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
		phases=$(grep -o 'paused=.*' "$out.log" | head -1)
		gap=$(grep -o 'seen by the subscribers [0-9.]*[mµ]*s' "$out.log" | awk '{print $NF}')
		pub=$(grep -o 'between publish answers [0-9.]*[mµ]*s' "$out.log" | awk '{print $NF}')
		echo "$side round $i: $phases gap=$gap publish_wait=$pub load=$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
	done
done
echo "medians (ms):"
for side in A B; do
	for f in paused gap publish_wait; do
		grep "^$side " "$out" | grep -o " $f=[0-9.]*[mµ]*s" | sed 's/.*=//' |
			awk '/ms$/{sub("ms","");print;next} /µs$/{sub("µs","");print $0/1000;next} /s$/{sub("s","");print $0*1000}' |
			sort -n | awk -v s="$side" -v f="$f" '{v[NR]=$1} END{printf "%s %s %.0f\n", s, f, (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'
	done
done
rm -f "$out" "$out.log"
