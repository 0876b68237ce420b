/*
 * keyfile: CURVE key files, shared by carehubd (its server key) and the
 * clients (their own key pair, and the server's public key).
 *
 * A key-pair file, as `carehubctl keygen` writes it (mode 0600):
 *
 *     # carehub CURVE key pair "NAME": keep this file secret
 *     public-key = <40 characters of Z85>
 *     secret-key = <40 characters of Z85>
 *
 * A public-key file holds the public half alone, on a line of its own
 * ("public-key = KEY", or the bare 40 characters); '#' lines are comments.
 * Nothing here logs; functions return 0 or a negative errno code with a
 * sentence in err ("FILE:LINE: reason" for a malformed file).
 */
#ifndef CAREHUB_KEYFILE_H
#define CAREHUB_KEYFILE_H

#include <stddef.h>

#define KEYFILE_Z85 40 /* a CURVE key in Z85 */

/* True for 40 characters of Z85 that decode to a 32-byte key. */
int keyfile_valid(const char *z85);

/*
 * Reads a key-pair file into public_key and secret_key (41 bytes each), and
 * checks that the secret matches the public half.  -EINVAL for a malformed
 * file or keys that do not belong together; -errno when it cannot be read.
 */
int keyfile_read_pair(const char *path, char public_key[KEYFILE_Z85 + 1],
                      char secret_key[KEYFILE_Z85 + 1], char *err, size_t err_size);

/*
 * The public key named by text: 40 characters of Z85 themselves, or the path
 * of a public-key (or key-pair) file.  Into public_key (41 bytes).
 */
int keyfile_read_public(const char *text, char public_key[KEYFILE_Z85 + 1], char *err,
                        size_t err_size);

/*
 * Makes a new key pair and writes it: the pair to secret_path (created
 * with mode 0600, never over an existing file), the public half to
 * public_path (mode 0644).  name goes into the comments.  The public key is
 * also stored in public_key (41 bytes).  -EEXIST when either file exists.
 */
int keyfile_generate(const char *secret_path, const char *public_path, const char *name,
                     char public_key[KEYFILE_Z85 + 1], char *err, size_t err_size);

#endif
