# Configuration errors: every problem at once as path:line: [section] key:
# message, exit 78; plugins refused with the file and the reason.
. tests/lib/common.sh
unset DATABASE_URL

for ini in tests/config/*.ini; do
	exp=${ini%.ini}.expected
	out=$("$B/sluiced" --check-config -c "$ini" 2>&1); rc=$?
	if [ -f "$exp" ]; then
		assert_eq 78 "$rc" "$(basename "$ini"): exit 78"
		check "$(basename "$ini"): messages match $(basename "$exp")" diff -u "$exp" <(echo "$out")
	else
		assert_eq 0 "$rc" "$(basename "$ini"): valid"
	fi
done

out=$(DATABASE_URL=postgresql:///x "$B/sluiced" --check-config -c tests/config/missing-url.ini 2>&1)
assert_match "OK" "$out" "DATABASE_URL stands in for [database] url"
out=$(DATABASE_URL='postgresql://ada:Pw%zz@h/d' "$B/sluiced" --check-config -c tests/config/missing-url.ini 2>&1); rc=$?
assert_eq 78 "$rc" "unparsable DATABASE_URL: exit 78"
assert_match '\[database\] url \(from DATABASE_URL\): not a valid connection string: invalid percent-encoded token: "\*\*\*"' "$out" "unparsable DATABASE_URL: says so"
check "unparsable DATABASE_URL: the password is not echoed" test "$(echo "$out" | grep -c 'Pw%zz')" = 0
out=$("$B/sluice" --database-url 'postgresql://ada:Pw%zz@h/d' migrate status 2>&1); rc=$?
check "sluice, unparsable --database-url: fails" test "$rc" != 0
assert_match 'invalid percent-encoded token: "\*\*\*"' "$out" "sluice, unparsable --database-url: says why"
check "sluice, unparsable --database-url: the password is not echoed" test "$(echo "$out" | grep -c 'Pw%zz')" = 0
out=$("$B/sluiced" --check-config -c "$TMP/nope.ini" 2>&1); rc=$?
assert_eq 78 "$rc" "missing file: exit 78"
assert_match "cannot read config file: No such file or directory" "$out" "missing file: says so"
out=$("$B/sluice" -c tests/config/errors.ini migrate status 2>&1); rc=$?
assert_eq 78 "$rc" "sluice shares the daemon's checks (exit 78)"

plugin_case() { # name plugins expected-message
	cat >"$TMP/p.ini" <<-INI
	[database]
	url = postgresql:///unused
	[worker]
	plugins = $2
	INI
	out=$("$B/sluiced" --check-config -c "$TMP/p.ini" 2>&1); rc=$?
	assert_eq 78 "$rc" "$1: refused (exit 78)"
	assert_match "$3" "$out" "$1: message names the file and the reason"
	out=$(timeout 10 "$B/sluiced" -c "$TMP/p.ini" 2>&1); rc=$?
	assert_eq 78 "$rc" "$1: the daemon refuses to start, no crash"
	assert_match "$3" "$(grep "^$TMP/p.ini: \[worker\] plugins: " <<<"$out")" "$1: the daemon says it as a configuration error"
}
TP=$PWD/$B/tests/plugins
plugin_case "wrong ABI" "$TP/bad_abi.so" "bad_abi.so: built for plugin ABI 42, this sluiced speaks ABI 1; rebuild"
plugin_case "not a plugin" "$TP/no_magic.so" "no_magic.so: not a sluice plugin \(missing symbol sluice_plugin_abi"
plugin_case "failing init" "$TP/init_fails.so" "init_fails.so: init failed \(returned -5\)"
plugin_case "kind twice" "$PWD/$B/plugins/demo.so, $TP/dup_kind.so" "dup_kind.so: kind demo.noop is already registered by .*/demo.so"
plugin_case "same plugin twice" "$PWD/$B/plugins/demo.so, $PWD/$B/plugins/demo.so" "kind demo.noop is already registered"
echo 'not an ELF' >"$TMP/junk.so"
plugin_case "not a shared object" "$TMP/junk.so" "junk.so: cannot load: "

out=$("$B/sluiced" --version); assert_match "^sluiced [0-9]+\.[0-9]+\.[0-9]+$" "$out" "--version"
out=$("$B/sluiced" --bogus 2>&1); rc=$?
assert_eq 64 "$rc" "unknown argument: exit 64"
finish
