# The short form of the fault loops (make torture runs the long one).
. tests/lib/common.sh
out=$(tests/torture/run --short 2>&1); rc=$?
echo "$out" | sed 's/^/  /'
assert_eq 0 "$rc" "fault loops: zero invariant violations"
finish
