/* logfmt output: quoting, escaping, levels. */
#include <fcntl.h>

#include "log.h"
#include "unit.h"
#include "util.h"

/* Runs fn with stderr captured; returns what it wrote. */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/sluice-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	static char buf[4096];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static void emit(void)
{
	log_info("job done", LI("job_id", 812), LS("kind", "mail.send"), LS("note", "a \"b\"=c"),
	         LS("empty", ""));
	log_debug("hidden at info");
}

static void fields_are_quoted_only_when_needed(void)
{
	log_set_level(LOG_INFO);
	char *out = capture(emit);
	char *rest = strstr(out, " level=");
	CHECK(strncmp(out, "ts=", 3) == 0);
	CHECK_STR(rest, " level=info msg=\"job done\" job_id=812 kind=mail.send "
	                "note=\"a \\\"b\\\"=c\" empty=\"\"\n");
}

static void emit_newline(void) { log_warn("two\nlines", LS("err", "x\ty")); }

static void control_characters_stay_on_one_line(void)
{
	char *out = capture(emit_newline);
	CHECK(strstr(out, "msg=\"two\\nlines\" err=\"x\\ty\"\n"));
	CHECK(strchr(out, '\n') == out + strlen(out) - 1);
}

UNIT_MAIN(UNIT(fields_are_quoted_only_when_needed), UNIT(control_characters_stay_on_one_line))
