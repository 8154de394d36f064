/* logfmt output: quoting, escaping, levels. */
#include <ctype.h>
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
	static char buf[32768];
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

/* Whole escapes and balanced quotes: the line is still logfmt. */
static bool well_formed(const char *s)
{
	bool in = false;
	for (; *s && *s != '\n'; s++) {
		if (*s == '"')
			in = !in;
		else if (in && *s == '\\') {
			s++;
			if (*s == 'x') {
				if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
					return false;
				s += 2;
			} else if (!strchr("\"\\nt", *s) || !*s)
				return false;
		}
	}
	return !in;
}

static void emit_long(void)
{
	/* Every cut position lands on some escape or character in one of these. */
	for (int shift = 0; shift < 8; shift++) {
		char v[3000];
		size_t n = 0;
		for (int i = 0; i < shift; i++)
			v[n++] = 'a';
		while (n < sizeof v - 4) {
			v[n++] = '"';
			v[n++] = '\x01';
			v[n++] = 'b';
		}
		v[n] = '\0';
		log_warn("long", LS("err", v), LS("after", "gone"));
	}
}

static void a_cut_line_stays_logfmt(void)
{
	log_set_level(LOG_INFO);
	char *out = capture(emit_long);
	int lines = 0;
	for (char *l = out; *l; lines++) {
		char *e = strchr(l, '\n');
		CHECK(e != NULL);
		if (!e)
			break;
		CHECK((size_t)(e - l) < 2048);
		CHECK(e - l > 15 && memcmp(e - 15, " truncated=true", 15) == 0);
		*e = '\0';
		CHECK(well_formed(l));
		CHECK(!strstr(l, "after="));
		l = e + 1;
	}
	CHECK(lines == 8);
}

UNIT_MAIN(UNIT(fields_are_quoted_only_when_needed), UNIT(control_characters_stay_on_one_line),
          UNIT(a_cut_line_stays_logfmt))
