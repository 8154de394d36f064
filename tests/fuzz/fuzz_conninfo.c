/* Fuzzes the connection-string redaction: the input is a connection string,
 * then optionally '\n' and a message (else the string itself stands in for
 * the message, as libpq quotes pieces of it). A redacted message never
 * holds a URL's password between its ':' and '@'. */
#include <stdlib.h>
#include <string.h>

#include "conninfo.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *in = malloc(size + 1);
	memcpy(in, data, size);
	in[size] = '\0';
	char *nl = strchr(in, '\n');
	const char *msg = in;
	if (nl) {
		*nl = '\0';
		msg = nl + 1;
	}
	char *out = conninfo_redact(in, msg);
	/* postgresql://user:PASSWORD@...: the password is gone */
	if (strncmp(in, "postgresql://", 13) == 0) {
		const char *at = strchr(in + 13, '@'), *slash = strchr(in + 13, '/');
		const char *colon = strchr(in + 13, ':');
		if (at && (!slash || at < slash) && colon && colon < at && at - colon > 1) {
			char *pw = strndup(colon + 1, (size_t)(at - colon - 1));
			/* (one with a star may be found across the "***" put in) */
			if (!strchr(pw, '*') && strstr(out, pw))
				abort();
			free(pw);
		}
	}
	free(out);
	char err[256];
	conninfo_check(in, err, sizeof err);
	free(in);
	return 0;
}
