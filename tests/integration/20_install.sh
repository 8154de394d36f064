# make install / uninstall with PREFIX and DESTDIR; an out-of-tree plugin
# built only from the installed header and sluice-plugin.pc loads and works.
. tests/lib/common.sh
new_db install
R=$TMP/root
make -s install B="$B" PREFIX=/usr DESTDIR="$R" >/dev/null || fatal "make install failed"
for f in usr/bin/sluiced usr/bin/sluice usr/lib/sluice/plugins/demo.so usr/include/sluice/plugin.h \
	usr/lib/pkgconfig/sluice-plugin.pc usr/share/man/man8/sluiced.8 usr/share/man/man1/sluice.1 \
	usr/share/man/man5/sluice.ini.5 lib/systemd/system/sluiced.service etc/sluice/sluice.ini; do
	check "installed $f" test -e "$R/$f"
done
grep -q '^ExecStart=/usr/bin/sluiced -c /etc/sluice/sluice.ini$' "$R/lib/systemd/system/sluiced.service" &&
	ok "the unit points at the installed paths" || not_ok "unit paths not substituted"

cat >"$TMP/hello.c" <<'C'
#include <sluice/plugin.h>
SLUICE_PLUGIN("hello", "1")
static const sluice_host *host;
static int hello(const sluice_job *job, void *ud)
{
	(void)ud;
	return host->record_output(job, "\"hello from out of tree\"") ? SLUICE_ERROR : SLUICE_OK;
}
int sluice_plugin_init(const sluice_host *h, sluice_plugin *p)
{
	host = h;
	sluice_kind k = {.size = sizeof k, .kind = "hello.world", .work = hello};
	return h->register_kind(p, &k);
}
C
cflags=$(PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_PATH=$R/usr/lib/pkgconfig pkg-config --cflags sluice-plugin)
assert_match "^-I$R/usr/include -fPIC" "$cflags" "pkg-config --cflags sluice-plugin"
cc -shared $cflags -o "$TMP/hello.so" "$TMP/hello.c" && ok "out-of-tree plugin builds" || not_ok "plugin does not build"
cat >"$TMP/d.ini" <<INI
[database]
url = $DATABASE_URL
[worker]
plugins = $TMP/hello.so, $R/usr/lib/sluice/plugins/demo.so
poll_interval = 200ms
INI
id=$(insert_job hello.world '{}')
B_SAVE=$B; B=$R/usr/bin
start_daemon "$TMP/d.ini" || finish
B=$B_SAVE
check "the installed sluiced works a job with it" wait_for "SELECT metadata->>'output' = 'hello from out of tree' FROM river_job WHERE id = $id" 5
stop_daemon

make -s uninstall B="$B" PREFIX=/usr DESTDIR="$R" >/dev/null
left=$(cd "$R" && find . -type f | sort | tr '\n' ' ')
assert_eq "./etc/sluice/sluice.ini " "$left" "uninstall removes all but the live config"
finish
