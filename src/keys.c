/* keys.c -- see keys.h. Key bytes only ever live in sodium_malloc'd memory
 * or on the stack (zeroed before return); messages name sources and ids,
 * never contents. */
#include "keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* A key file holds base64 text: anything much longer is not one. */
#define KEY_FILE_MAX 1024

bool key_id_valid(const char *id)
{
	size_t n = strlen(id);
	return n > 0 && n <= KEY_ID_MAX && name_chars(id, n);
}

int key_decode(const char *text, size_t len, uint8_t out[KEY_BYTES])
{
	while (len && isspace((unsigned char)*text)) {
		text++;
		len--;
	}
	while (len && isspace((unsigned char)text[len - 1]))
		len--;
	/* libsodium 1.0.18's decoder takes every byte above 0x7f for the
	 * 64th character (a key file mangled into UTF-8 would give some other
	 * key, with no error): such bytes are never base64. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] > 0x7f)
			return -1;
	uint8_t buf[KEY_BYTES + 8];
	size_t got = 0;
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
	                               sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
	                               sodium_base64_VARIANT_URLSAFE,
	                               sodium_base64_VARIANT_URLSAFE_NO_PADDING};
	int rc = -1;
	for (size_t i = 0; i < ARRAY_LEN(variants) && rc < 0; i++) {
		const char *end;
		if (sodium_base642bin(buf, sizeof buf, text, len, NULL, &got, &end, variants[i]) == 0 &&
		    end == text + len && got == KEY_BYTES) {
			memcpy(out, buf, KEY_BYTES);
			rc = 0;
		}
	}
	sodium_memzero(buf, sizeof buf);
	return rc;
}

void key_id_derive(const uint8_t key[KEY_BYTES], char out[KEY_ID_MAX + 1])
{
	static const char msg[] = "sluice key id v1";
	uint8_t h[8];
	crypto_generichash(h, sizeof h, (const uint8_t *)msg, sizeof msg - 1, key, KEY_BYTES);
	out[0] = 'k';
	sodium_bin2hex(out + 1, KEY_ID_MAX, h, sizeof h);
}

static bool known_scheme(const char *s, size_t n)
{
	return (n == 4 && memcmp(s, "file", 4) == 0) || (n == 3 && memcmp(s, "env", 3) == 0) ||
	       (n == 10 && memcmp(s, "credential", 10) == 0);
}

/* "scheme:arg" with a known scheme: lengths of the scheme, else 0. */
static size_t scheme_len(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon)
		return 0;
	size_t n = (size_t)(colon - s);
	return known_scheme(s, n) ? n : 0;
}

void keys_sources_free(key_source *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].id);
		free(s[i].scheme);
		free(s[i].arg);
	}
	free(s);
}

#define LITERAL_KEY                                                                        \
	"looks like key material; keys are never accepted in the INI file: use file:/path "    \
	"(mode 0600), env:NAME or credential:NAME"

static bool is_key(const char *s)
{
	uint8_t k[KEY_BYTES];
	bool yes = key_decode(s, strlen(s), k) == 0;
	sodium_memzero(k, sizeof k);
	return yes;
}

static bool env_name(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

int keys_parse(const char *value, key_source **out, size_t *n_out, char *err, size_t errlen)
{
	char **items;
	size_t n = strv_split(value, ',', &items);
	key_source *s = xcalloc(n ? n : 1, sizeof *s);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *item = items[i], *src = item;
		size_t sl = scheme_len(item);
		char *id = NULL;
		if (!sl) {
			const char *eq = strchr(item, '=');
			if (eq && scheme_len(eq + 1)) {
				id = xstrndup(item, (size_t)(eq - item));
				src = eq + 1;
				sl = scheme_len(src);
			}
		}
		if (!sl) {
			size_t len = strlen(item);
			bool b64ish = len >= 40 && len <= 100 &&
			              strspn(item, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			                           "0123456789+/=_-") == len;
			if (b64ish || is_key(item))
				snprintf(err, errlen, "item %zu " LITERAL_KEY, i + 1);
			else
				snprintf(err, errlen,
				         "item %zu: unknown key source (use file:/path, env:NAME or "
				         "credential:NAME, optionally prefixed with id=)",
				         i + 1);
			free(id);
			rc = -1;
			break;
		}
		if (id && !key_id_valid(id)) {
			/* Not echoed: what was typed before '=' may be a key (an
			 * unpadded base64 key is no valid id). */
			snprintf(err, errlen,
			         "item %zu: the key id before '=' must be 1-%d letters, digits, '_' or '-'",
			         i + 1, KEY_ID_MAX);
			free(id);
			rc = -1;
			break;
		}
		const char *arg = src + sl + 1;
		/* Every later message names the source: key material typed after
		 * the scheme must not get that far. */
		if (is_key(arg)) {
			snprintf(err, errlen, "item %zu: %.*s: what follows " LITERAL_KEY, i + 1, (int)sl, src);
			free(id);
			rc = -1;
			break;
		}
		if (!*arg || (strncmp(src, "file", 4) == 0 && arg[0] != '/')) {
			snprintf(err, errlen, "item %zu: %.*s: needs %s", i + 1, (int)sl, src,
			         strncmp(src, "file", 4) == 0 ? "an absolute path" : "a name");
			free(id);
			rc = -1;
			break;
		}
		if (strncmp(src, "env", 3) == 0 && !env_name(arg)) {
			snprintf(err, errlen,
			         "item %zu: env: not an environment variable name (letters, digits and "
			         "'_', not starting with a digit)",
			         i + 1);
			free(id);
			rc = -1;
			break;
		}
		s[i].id = id;
		s[i].scheme = xstrndup(src, sl);
		s[i].arg = xstrdup(arg);
	}
	strv_free(items);
	if (rc < 0) {
		keys_sources_free(s, n);
		return -1;
	}
	*out = s;
	*n_out = n;
	return 0;
}

/* Whoever owns a key file, or a directory on the way to it, can replace
 * the key: only this user and root may. */
static bool owner_trusted(const struct stat *st)
{
	return st->st_uid == geteuid() || st->st_uid == 0;
}

/* As ssh's StrictModes, for a directory holding a name on the way to a key
 * file: whoever may rename its entries can swap in a key of their own. So
 * it must belong to this user or root and be writable by nobody else,
 * unless it is sticky (/tmp), where only an entry's owner may rename it. */
static int check_dir(const char *dir, bool via_link, char *err, size_t errlen, const char *label)
{
	const char *how = via_link ? " (reached through a symbolic link)" : "";
	struct stat st;
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: directory %s%s: %s", label, dir, how, strerror(errno));
		return -1;
	}
	if (!owner_trusted(&st)) {
		snprintf(err, errlen,
		         "%s: directory %s%s is owned by uid %u, neither this user (uid %u) nor root",
		         label, dir, how, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen,
		         "%s: directory %s%s is writable by group or others (mode %04o); run chmod go-w "
		         "on it",
		         label, dir, how, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

#define KEY_PATH_MAX 4096
#define KEY_LINKS_MAX 40

/* Resolves path one name at a time, as the kernel does, following symbolic
 * links by hand so that every directory holding a name on the way (a
 * link's included) is checked, then makes sure the file found is the one
 * opened as fd. */
static int check_key_path(const char *path, int fd, char *err, size_t errlen, const char *label)
{
	char dir[KEY_PATH_MAX] = "/", rest[KEY_PATH_MAX], next[KEY_PATH_MAX];
	if (path[0] != '/' && !getcwd(dir, sizeof dir)) {
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	if (strlen(path) >= sizeof rest)
		goto too_long;
	strcpy(rest, path);
	int links = 0;
	bool via_link = false;
	for (;;) {
		char *p = rest;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		char name[KEY_PATH_MAX];
		memcpy(name, p, n);
		name[n] = '\0';
		memmove(rest, p + n, strlen(p + n) + 1);
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) { /* nobody can change where ".." leads */
			char *slash = strrchr(dir, '/');
			slash[slash == dir] = '\0';
			continue;
		}
		if (check_dir(dir, via_link, err, errlen, label) < 0)
			return -1;
		char cand[KEY_PATH_MAX];
		if ((size_t)snprintf(cand, sizeof cand, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
		                     name) >= sizeof cand)
			goto too_long;
		struct stat st;
		if (lstat(cand, &st) < 0) {
			snprintf(err, errlen, "%s: %s: %s", label, cand, strerror(errno));
			return -1;
		}
		if (!S_ISLNK(st.st_mode)) {
			strcpy(dir, cand);
			continue;
		}
		if (++links > KEY_LINKS_MAX) {
			snprintf(err, errlen, "%s: %s", label, strerror(ELOOP));
			return -1;
		}
		ssize_t tl = readlink(cand, next, sizeof next - 1);
		if (tl < 0) {
			snprintf(err, errlen, "%s: %s: %s", label, cand, strerror(errno));
			return -1;
		}
		if ((size_t)tl + 1 + strlen(rest) >= sizeof next)
			goto too_long;
		next[tl] = '\0';
		strcat(next, "/");
		strcat(next, rest);
		strcpy(rest, next);
		if (next[0] == '/')
			strcpy(dir, "/");
		via_link = true;
	}
	struct stat found, opened;
	if (stat(dir, &found) < 0 || fstat(fd, &opened) < 0 || found.st_dev != opened.st_dev ||
	    found.st_ino != opened.st_ino) {
		snprintf(err, errlen, "%s: the file changed while it was read; try again", label);
		return -1;
	}
	return 0;
too_long:
	snprintf(err, errlen, "%s: path too long", label);
	return -1;
}

/* Reads a small secret file into buf; refuses files others can read or
 * another user owns, or that sit where others could replace them. */
static int read_secret_file(const char *path, bool credential, char *buf, size_t cap, size_t *len,
                            char *err, size_t errlen, const char *label)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", label);
		close(fd);
		return -1;
	}
	/* systemd grants a credential to a service's user with an ACL where the
	 * file system has them; the ACL's mask shows as the group bits. */
	if (st.st_mode & (credential ? 007 : 077)) {
		snprintf(err, errlen,
		         "%s: readable by %s (mode %04o); run chmod 600 on it", label,
		         credential ? "others" : "group or others", (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	/* As ssh's StrictModes: whoever owns the file can replace the key, and
	 * then read every job encrypted after the next (re)load. */
	if (!owner_trusted(&st)) {
		snprintf(err, errlen,
		         "%s: owned by uid %u, neither this user (uid %u) nor root; chown it to the "
		         "user sluice runs as",
		         label, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	if (check_key_path(path, fd, err, errlen, label) < 0) {
		close(fd);
		return -1;
	}
	ssize_t n = read(fd, buf, cap);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", label, strerror(errno));
		return -1;
	}
	if ((size_t)n == cap) {
		snprintf(err, errlen, "%s: too large for a key file", label);
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

static int load_one(const key_source *s, uint8_t key[KEY_BYTES], char *err, size_t errlen)
{
	char label[600];
	snprintf(label, sizeof label, "%s:%s", s->scheme, s->arg);
	char *buf = sodium_malloc(KEY_FILE_MAX);
	if (!buf) {
		snprintf(err, errlen, "%s: cannot allocate locked memory", label);
		return -1;
	}
	size_t len = 0;
	int rc = 0;
	if (strcmp(s->scheme, "env") == 0) {
		const char *v = getenv(s->arg);
		if (!v) {
			snprintf(err, errlen, "%s: environment variable not set", label);
			rc = -1;
		} else {
			len = strlen(v);
			if (len >= KEY_FILE_MAX)
				len = KEY_FILE_MAX - 1;
			memcpy(buf, v, len);
		}
	} else if (strcmp(s->scheme, "credential") == 0) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (!dir || !*dir) {
			snprintf(err, errlen,
			         "%s: CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)",
			         label);
			rc = -1;
		} else if (strchr(s->arg, '/')) {
			snprintf(err, errlen, "%s: a credential name cannot contain '/'", label);
			rc = -1;
		} else {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", dir, s->arg);
			rc = read_secret_file(path, true, buf, KEY_FILE_MAX, &len, err, errlen, label);
		}
	} else {
		rc = read_secret_file(s->arg, false, buf, KEY_FILE_MAX, &len, err, errlen, label);
	}
	if (rc == 0 && key_decode(buf, len, key) < 0) {
		snprintf(err, errlen, "%s: not a base64-encoded %d-byte key (make one with sluice keygen)",
		         label, KEY_BYTES);
		rc = -1;
	}
	sodium_free(buf); /* zeroes */
	return rc;
}

/* Keys sit in sodium_malloc'd memory, which core files leave out; what
 * they decrypt does not. So a process that loads keys (the daemon at start
 * or on a reload, the admin tool) writes no core file from then on, and
 * other processes of its user cannot ptrace it. Never undone. */
static void no_core_files(void)
{
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int keyring_load(const key_source *src, size_t n, keyring **out, char *err, size_t errlen)
{
	if (n)
		no_core_files();
	keyring *r = xcalloc(1, sizeof *r);
	r->n = n;
	r->ids = xcalloc(n ? n : 1, sizeof *r->ids);
	r->sources = xcalloc(n ? n : 1, sizeof *r->sources);
	r->bytes = n ? sodium_malloc(n * KEY_BYTES) : NULL;
	if (n && !r->bytes) {
		snprintf(err, errlen, "cannot allocate locked memory for keys");
		keyring_free(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		sb b = {0};
		sb_printf(&b, "%s:%s", src[i].scheme, src[i].arg);
		r->sources[i] = sb_take(&b);
		if (load_one(&src[i], r->bytes + i * KEY_BYTES, err, errlen) < 0) {
			keyring_free(r);
			return -1;
		}
		if (src[i].id)
			snprintf(r->ids[i], sizeof r->ids[i], "%s", src[i].id);
		else
			key_id_derive(r->bytes + i * KEY_BYTES, r->ids[i]);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(r->ids[j], r->ids[i]) == 0 ||
			    sodium_memcmp(r->bytes + j * KEY_BYTES, r->bytes + i * KEY_BYTES, KEY_BYTES) == 0) {
				snprintf(err, errlen, "%s and %s: the same key id or key listed twice",
				         r->sources[j], r->sources[i]);
				keyring_free(r);
				return -1;
			}
		}
	}
	if (r->bytes)
		sodium_mprotect_readonly(r->bytes);
	*out = r;
	return 0;
}

void keyring_free(keyring *r)
{
	if (!r)
		return;
	if (r->bytes)
		sodium_free(r->bytes); /* zeroes, unlocks, unmaps */
	for (size_t i = 0; i < r->n; i++)
		free(r->sources[i]);
	free(r->sources);
	free(r->ids);
	free(r);
}

int keyring_find(const keyring *r, const char *id)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (strcmp(r->ids[i], id) == 0)
			return (int)i;
	return -1;
}
