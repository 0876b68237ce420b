/*
 * auth: who may do what over the API, as pure functions.
 *
 * With CURVE on, every client proves it holds the secret half of a public
 * key.  The authorised-keys file lists the public keys the daemon accepts,
 * each with a role:
 *
 *     # comment
 *     KEY ROLE NAME [team=TEAM_ID]
 *
 * KEY is the client's public key in Z85 (40 characters, as carehubctl keygen
 * writes it); ROLE is publisher (may publish events, and ask status),
 * reader (may ask questions; with team=, only about that team and the teams
 * below it) or admin (everything); NAME (letters, digits, '.', '_', '-', up to
 * 64) names the client in logs.  Blank lines and lines starting with '#' are
 * ignored.  Every mistake is reported as "FILE:LINE: reason", and a file
 * with any mistake is refused whole.
 *
 * The ZAP handler (see auth_zap_reply()) admits a CURVE client whose key the
 * file lists and sets the connection's User-Id to that key; the API then
 * decides each request from the User-Id and the keys as they are at that
 * moment (auth_find(), auth_allows()), so a key removed by a reload is
 * refused at its very next request, even on a connection made before.
 *
 * Nothing here logs or does I/O but reading the file in auth_keys_load().
 */
#ifndef CAREHUB_AUTH_H
#define CAREHUB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_KEY_Z85 40     /* a CURVE key in Z85 */
#define AUTH_NAME_MAX 64    /* a key's name */
#define AUTH_TEAM_MAX 128   /* a reader's team id */
#define AUTH_MAX_KEYS 10000 /* keys in one file */
#define AUTH_MAX_ERRORS 32  /* errors kept from one file */

enum auth_role {
    AUTH_NONE = 0, /* not authorised: no key, or a key not (or no longer) listed */
    AUTH_PUBLISHER,
    AUTH_READER,
    AUTH_ADMIN,
};

struct auth_key {
    char key[AUTH_KEY_Z85 + 1];
    char name[AUTH_NAME_MAX + 1];
    enum auth_role role;
    char team_id[AUTH_TEAM_MAX + 1]; /* readers only; "" for the whole organisation */
};

struct auth_keys {
    int count;
    struct auth_key *keys; /* sorted by key, for auth_find() */
};

/* The errors found in one file, each "FILE:LINE: reason". */
struct auth_errors {
    int count; /* may be more than the texts kept */
    char text[AUTH_MAX_ERRORS][320];
};

/*
 * Reads the authorised-keys file at path into *out (release with
 * auth_keys_free(), whatever the result).  Returns 0; -EINVAL with every
 * mistake in *errors (a key that is not Z85 or not 40 characters, an unknown
 * role, a bad name, team= on a role other than reader, a key listed twice,
 * text after the fields, more than AUTH_MAX_KEYS keys); -errno when the file
 * cannot be read (in *errors too); -ENOMEM.
 */
int auth_keys_load(const char *path, struct auth_keys *out, struct auth_errors *errors);

/* Frees what auth_keys_load() filled in; a zeroed struct is fine. */
void auth_keys_free(struct auth_keys *keys);

/* The key's entry, borrowed from keys, or NULL when it is not listed. */
const struct auth_key *auth_find(const struct auth_keys *keys, const char *z85);

/* "publisher", "reader", "admin" or "none". */
const char *auth_role_name(enum auth_role role);

/*
 * Whether role may use op.  Publishers: publish, status.  Readers: status,
 * staff, team, reports, due, overdue, person, notifications, kpi, and clock
 * when it only asks the time.  Admins: everything (backup, audit, ack, moving
 * the test clock).  Unknown ops are allowed
 * to the admin only (they then get unknown_op).  changes_clock says whether
 * a clock request sets or moves the clock.
 */
bool auth_allows(enum auth_role role, const char *op, bool changes_clock);

/*
 * The answer to one ZAP request (RFC 27): frames[0..count-1] as received
 * (version "1.0", request id, domain, address, routing id, mechanism, then
 * the mechanism's credentials: for CURVE the client's 32-byte public key).
 * Fills status ("200" admitted, "400" refused, "500" a malformed request),
 * status_text (a sentence for the log), and user_id (the key in Z85, for the
 * connection's User-Id; "" when refused).  domain must equal expected_domain.
 * With curve_required only CURVE is admitted; NULL and PLAIN are refused.
 * Without it (a daemon running without CURVE, whose handler is there only
 * to bound the connections) NULL is admitted as AUTH_ADMIN, with an empty
 * User-Id, since plain operation lets everyone do everything; PLAIN is
 * still refused.  Returns the role admitted (AUTH_NONE when refused) and,
 * in *key, the entry (NULL when refused or for NULL).
 */
enum auth_role auth_zap_decide(const struct auth_keys *keys, const char *expected_domain,
                               bool curve_required, const void *const *frames, const size_t *sizes,
                               int count, char status[4], char *status_text, size_t text_size,
                               char user_id[AUTH_KEY_Z85 + 1], const struct auth_key **key);

#endif
