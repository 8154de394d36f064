/* keygen.c -- `sluice keygen`: a new key, base64 on stdout (or into a new
 * 0600 file), its non-secret key id on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "keys.h"

int cmd_keygen(cli *c)
{
	const char *out = NULL;
	for (int i = 1; i < c->argc; i++) {
		const char *v;
		if (strcmp(c->argv[i], "--help") == 0 || strcmp(c->argv[i], "-h") == 0) {
			printf("usage: sluice keygen [--out FILE]\n\n"
			       "Prints a new random %d-byte key in base64 (or writes it to FILE, created\n"
			       "with mode 0600; an existing FILE is never overwritten) and its key id on\n"
			       "stderr. Key ids are not secret; keys are. Use the key through\n"
			       "[encryption] keys = file:FILE (or env:NAME, credential:NAME).\n",
			       KEY_BYTES);
			return 0;
		} else if (cli_opt(c->argc, c->argv, &i, "--out", &v)) {
			if (!v)
				return cli_fail(EXIT_USAGE, "--out needs a file");
			out = v;
		} else {
			return cli_fail(EXIT_USAGE, "keygen: unknown argument '%s'", c->argv[i]);
		}
	}
	uint8_t *key = sodium_malloc(KEY_BYTES);
	char *b64 = sodium_malloc(sodium_base64_ENCODED_LEN(KEY_BYTES, sodium_base64_VARIANT_ORIGINAL));
	if (!key || !b64)
		return cli_fail(1, "cannot allocate locked memory");
	randombytes_buf(key, KEY_BYTES);
	sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(KEY_BYTES, sodium_base64_VARIANT_ORIGINAL),
	                  key, KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
	char id[KEY_ID_MAX + 1];
	key_id_derive(key, id);
	int rc = 0;
	if (out) {
		int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = cli_fail(1, "%s: %s", out, strerror(errno));
		} else {
			size_t n = strlen(b64);
			b64[n] = '\n';
			bool ok = write(fd, b64, n + 1) == (ssize_t)(n + 1) && fsync(fd) == 0;
			int why = errno;
			if (close(fd) < 0 && ok) {
				ok = false;
				why = errno;
			}
			if (!ok) {
				rc = cli_fail(1, "%s: %s", out, strerror(why));
				/* a partial key file would be refused for good (O_EXCL) */
				unlink(out);
			}
		}
	} else if (printf("%s\n", b64) < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		rc = cli_fail(1, "cannot write the key to stdout: %s", strerror(errno));
	}
	if (rc == 0)
		fprintf(stderr, "key id: %s\n", id);
	sodium_free(key);
	sodium_free(b64);
	return rc;
}
