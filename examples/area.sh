#!/bin/sh
# The area of an ellipse with semi-axes $1 and $2, written as the outputs `area` (a float) and
# `metadata` (a file) into the directory $3. Runs in the examples image (busybox: sh, bc).
set -eu
a=$1 b=$2 out=$3
echo "3.141592653589793 * $a * $b" | bc -l > "$out/area"
echo "a=$a b=$b" > "$out/metadata"
echo "ellipse a=$a b=$b: area $(cat "$out/area")"
