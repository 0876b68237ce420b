/*
 * notify_config: carehub-notify.conf (libconfig syntax), read into a fresh
 * struct and checked completely before anything uses it.
 *
 * Every key, its type, range and default is documented in
 * conf/carehub-notify.conf and docs/notify.md.  A file is either valid as a
 * whole or refused with every error it holds, each "file:line: key: reason".
 * Nothing here logs.
 */
#ifndef CAREHUB_NOTIFY_CONFIG_H
#define CAREHUB_NOTIFY_CONFIG_H

#include <stdbool.h>

#include "mail.h"

#define NOTIFY_CONFIG_MAX_ERRORS 32

/* The errors found in one file, each "file:line: key: reason". */
struct notify_config_errors {
    int count; /* may be larger than the texts kept */
    char text[NOTIFY_CONFIG_MAX_ERRORS][320];
};

struct notify_config {
    char *path;            /* the file read, as given */
    char *api_endpoint;    /* api.endpoint */
    char *notify_endpoint; /* notify.endpoint */
    char *api_key_file;    /* api.key_file: this service's CURVE key pair, or NULL */
    char *api_server_key;  /* api.server_key: carehubd's public key (or its file), or NULL */
    char *state_file;      /* state_file: the notifier's own SQLite database */
    char *templates;       /* templates: a templates file; NULL for the built-in ones */
    char *organisation;    /* organisation: shown in messages; "" when not set */
    int log_level;         /* log.level as a syslog level */

    /* smtp: the relay */
    char *smtp_url;
    enum mail_tls smtp_tls;
    char *smtp_username; /* NULL: no authentication */
    char *smtp_password; /* read from smtp.password_file; NULL when none */
    char *smtp_ca_file;  /* NULL: the system's */
    bool smtp_verify;
    int smtp_timeout_seconds;
    char *smtp_helo; /* NULL: libcurl's default */

    /* mail: the messages */
    char *from;              /* mail.from: address */
    char *from_name;         /* mail.from_name */
    char *fallback;          /* mail.fallback: address for undeliverable notices; NULL: none */
    char *message_id_domain; /* mail.message_id_domain, default: from's domain */

    /* digest */
    bool digest_enabled;
    int digest_minute;              /* digest.time as minutes after midnight */
    char digest_time[6];            /* the same as "HH:MM" */
    int immediate_escalation_level; /* 0: no escalation goes out immediately */
    bool immediate_alerts;
    bool attach_calendar;
    int calendar_days;

    /* retry */
    int retry_first_seconds;
    int retry_max_seconds;
    int retry_give_up_seconds; /* a temporary failure of one message becomes final after this */

    /* timing */
    int clock_poll_ms; /* how often the daemon's clock is read */
    int request_timeout_ms;
};

/*
 * Reads and checks the file at path into *out (the caller releases it with
 * notify_config_free(), whatever the result).  The password file named by
 * smtp.password_file is read too.  Returns 0 when the file is valid;
 * otherwise -EINVAL (or -ENOMEM) with every problem in *errors.
 */
int notify_config_load(const char *path, struct notify_config *out,
                       struct notify_config_errors *errors);

/* Releases what notify_config_load() filled in; a zeroed struct is fine. */
void notify_config_free(struct notify_config *config);

#endif
